import { ContentFormat } from '../formats/types.js';
import type { Registration } from './registration.js';

// Richest first: what we ask a device for when the caller did not choose.
const PREFERRED_1_1 = [ContentFormat.SENML_CBOR, ContentFormat.LWM2M_CBOR, ContentFormat.SENML_JSON, ContentFormat.TLV];
const MULTI_FORMATS = [ContentFormat.SENML_CBOR, ContentFormat.LWM2M_CBOR, ContentFormat.SENML_JSON];

/**
 * The formats a 1.1+ device announced with `ct` on its root link (LwM2M 1.1 §6.2.1.1:
 * `</>;rt="oma.lwm2m";ct="60 110 112 11543"`), or undefined when it said nothing.
 */
export function announcedFormats(registration: Registration): number[] | undefined {
  for (const link of registration.objectLinks) {
    const rt = link.params.rt;
    const ct = link.params.ct;
    if (typeof rt === 'string' && rt.split(' ').includes('oma.lwm2m') && typeof ct === 'string') {
      return ct
        .split(/\s+/)
        .filter((s) => /^\d+$/.test(s))
        .map(Number);
    }
  }
  return undefined;
}

/**
 * Like Leshan: TLV for LwM2M 1.0 (every 1.0 client must speak it), SenML CBOR for 1.1+
 * unless the device announced formats, in which case the richest one it speaks.
 */
export function defaultFormat(registration: Registration): number {
  if (registration.lwm2mVersion === '1.0') return ContentFormat.TLV;
  const announced = announcedFormats(registration);
  if (announced) {
    const choice = PREFERRED_1_1.find((f) => announced.includes(f));
    if (choice !== undefined) return choice;
  }
  return ContentFormat.SENML_CBOR;
}

/** The format for composite operations (FETCH/iPATCH bodies): SenML CBOR unless the device announced otherwise. */
export function defaultCompositeFormat(registration: Registration): number {
  const announced = announcedFormats(registration);
  if (announced) {
    const choice = MULTI_FORMATS.find((f) => announced.includes(f));
    if (choice !== undefined) return choice;
  }
  return ContentFormat.SENML_CBOR;
}
