/**
 * What a device says when it registers (LwM2M 1.1 §6.2.1, 1.0 §5.3.1): the query
 * parameters and the link-format list of its object instances.
 */
import type { WebLink } from '../../src/lwm2m/link-format.js';
import { serializeLinkFormat } from '../../src/lwm2m/link-format.js';
import type { Lwm2mVersion } from './content.js';

export interface RegistrationParams {
  endpointName: string;
  lifetimeSec: number;
  version: Lwm2mVersion;
  /** Transport binding letters, e.g. "U". */
  binding: string;
  queueMode: boolean;
}

/** `ep`, `lt`, `lwm2m`, `b`, then `Q` (1.1+) — in 1.0 queue mode is the binding "UQ". */
export function registrationQuery(params: RegistrationParams): string[] {
  const query = [`ep=${params.endpointName}`, `lt=${params.lifetimeSec}`, `lwm2m=${params.version}`];
  if (params.version === '1.0') {
    query.push(`b=${params.queueMode && !params.binding.includes('Q') ? params.binding + 'Q' : params.binding}`);
  } else {
    query.push(`b=${params.binding.replace('Q', '')}`);
    if (params.queueMode) query.push('Q');
  }
  return query;
}

/**
 * The registration payload. From 1.1 on, the root link announces LwM2M and the content
 * format the device prefers (`</>;rt="oma.lwm2m";ct=…`).
 */
export function registrationPayload(version: Lwm2mVersion, instanceLinks: WebLink[], preferredFormat: number): string {
  const root: WebLink[] = version === '1.0' ? [] : [{ uri: '/', params: { rt: 'oma.lwm2m', ct: String(preferredFormat) } }];
  return serializeLinkFormat([...root, ...instanceLinks]);
}
