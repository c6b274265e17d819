/**
 * Which content format the bootstrap server writes in. A bootstrap request carries no
 * LwM2M version, but 1.1 added `pct` (the client's preferred content format): a request
 * without it comes from a 1.0 client, which must understand TLV. A 1.1+ client gets its
 * preferred format when we can write instances in it, else SenML CBOR (mandatory in 1.1
 * for clients that do not do TLV... and the richest the specification names).
 */
import { ContentFormat } from '../formats/types.js';

export type BootstrapLwm2mVersion = '1.0' | '1.1' | '1.2';

/** Formats that can carry a whole object instance in a Bootstrap-Write. */
const INSTANCE_FORMATS: readonly number[] = [ContentFormat.SENML_CBOR, ContentFormat.SENML_JSON, ContentFormat.TLV, ContentFormat.LWM2M_CBOR];

export function isInstanceFormat(format: number): boolean {
  return INSTANCE_FORMATS.includes(format);
}

/** The version as the request tells it: `pct` means 1.1 or later (the exact minor comes from Bootstrap-Discover). */
export function versionOfRequest(pct: number | undefined): BootstrapLwm2mVersion {
  return pct === undefined ? '1.0' : '1.1';
}

/** The `lwm2m="1.1"` attribute that opens a Bootstrap-Discover answer, when present and known. */
export function versionOfDiscover(payload: string): BootstrapLwm2mVersion | undefined {
  const match = /^\s*lwm2m\s*=\s*"?(\d+\.\d+)"?/.exec(payload);
  const version = match?.[1];
  return version === '1.0' || version === '1.1' || version === '1.2' ? version : undefined;
}

export function bootstrapFormat(version: BootstrapLwm2mVersion, pct: number | undefined): number {
  if (version === '1.0') return ContentFormat.TLV;
  if (pct !== undefined && isInstanceFormat(pct)) return pct;
  return ContentFormat.SENML_CBOR;
}
