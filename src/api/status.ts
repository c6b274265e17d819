/**
 * CoAP response codes as Leshan's API names them ("CONTENT(205)", "NOT_FOUND(404)") and
 * as RFC 7252 phrases them ("Not Found"), for response envelopes and error details.
 */
import type { CoapCodeValue } from '../coap/types.js';

const NAMES: Record<string, [leshan: string, phrase: string]> = {
  '2.01': ['CREATED', 'Created'],
  '2.02': ['DELETED', 'Deleted'],
  '2.03': ['VALID', 'Valid'],
  '2.04': ['CHANGED', 'Changed'],
  '2.05': ['CONTENT', 'Content'],
  '2.31': ['CONTINUE', 'Continue'],
  '4.00': ['BAD_REQUEST', 'Bad Request'],
  '4.01': ['UNAUTHORIZED', 'Unauthorized'],
  '4.02': ['BAD_OPTION', 'Bad Option'],
  '4.03': ['FORBIDDEN', 'Forbidden'],
  '4.04': ['NOT_FOUND', 'Not Found'],
  '4.05': ['METHOD_NOT_ALLOWED', 'Method Not Allowed'],
  '4.06': ['NOT_ACCEPTABLE', 'Not Acceptable'],
  '4.08': ['REQUEST_ENTITY_INCOMPLETE', 'Request Entity Incomplete'],
  '4.09': ['CONFLICT', 'Conflict'],
  '4.12': ['PRECONDITION_FAILED', 'Precondition Failed'],
  '4.13': ['REQUEST_ENTITY_TOO_LARGE', 'Request Entity Too Large'],
  '4.15': ['UNSUPPORTED_CONTENT_FORMAT', 'Unsupported Content-Format'],
  '5.00': ['INTERNAL_SERVER_ERROR', 'Internal Server Error'],
  '5.01': ['NOT_IMPLEMENTED', 'Not Implemented'],
  '5.02': ['BAD_GATEWAY', 'Bad Gateway'],
  '5.03': ['SERVICE_UNAVAILABLE', 'Service Unavailable'],
  '5.04': ['GATEWAY_TIMEOUT', 'Gateway Timeout'],
  '5.05': ['PROXYING_NOT_SUPPORTED', 'Proxying Not Supported'],
};

function dotted(code: CoapCodeValue): string {
  return `${code >> 5}.${String(code & 0x1f).padStart(2, '0')}`;
}

/** "CONTENT(205)"; a code without a name is "UNKNOWN(409)", as Leshan prints it. */
export function coapStatusName(code: CoapCodeValue): string {
  const number = (code >> 5) * 100 + (code & 0x1f);
  return `${NAMES[dotted(code)]?.[0] ?? 'UNKNOWN'}(${number})`;
}

/** "Not Found"; "" for a code without a phrase. */
export function coapReasonPhrase(code: CoapCodeValue): string {
  return NAMES[dotted(code)]?.[1] ?? '';
}

/** Leshan's success envelope around an operation's result fields. */
export function successEnvelope(code: CoapCodeValue, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { status: coapStatusName(code), valid: true, success: true, failure: false, ...fields };
}
