/**
 * Query parameters shared by the device routes: ?format= (a content format by Leshan's
 * name or by number) and ?timeout= (seconds, as Leshan takes it).
 */
import { ContentFormat } from '../lwm2m/formats/types.js';
import { ApiError } from './errors.js';

const FORMATS_BY_NAME: Record<string, number> = {
  TEXT: ContentFormat.TEXT,
  PLAIN_TEXT: ContentFormat.TEXT,
  LINK: ContentFormat.LINK,
  OPAQUE: ContentFormat.OPAQUE,
  CBOR: ContentFormat.CBOR,
  SENML_JSON: ContentFormat.SENML_JSON,
  SENML_CBOR: ContentFormat.SENML_CBOR,
  TLV: ContentFormat.TLV,
  JSON: ContentFormat.OLD_JSON,
  OLD_JSON: ContentFormat.OLD_JSON,
  LWM2M_CBOR: ContentFormat.LWM2M_CBOR,
};

const KNOWN_NUMBERS = new Set<number>(Object.values(ContentFormat));

/** undefined when the query does not ask for a format. */
export function parseFormat(value: unknown): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw new ApiError(400, 'bad format', 'give ?format= once');
  if (/^\d+$/.test(value)) {
    const number = Number(value);
    if (!KNOWN_NUMBERS.has(number)) {
      throw new ApiError(400, 'bad format', `content format ${number} is not an LwM2M format (${[...KNOWN_NUMBERS].join(', ')})`);
    }
    return number;
  }
  const number = FORMATS_BY_NAME[value.toUpperCase()];
  if (number === undefined) {
    const names = Object.keys(FORMATS_BY_NAME).join(', ');
    throw new ApiError(400, 'bad format', `unknown format "${value}" (expected ${names} or a number)`);
  }
  return number;
}

/** ?timeout= in seconds → milliseconds; `fallbackMs` when absent. */
export function parseTimeoutMs(value: unknown, fallbackMs: number): number {
  if (value === undefined || value === '') return fallbackMs;
  const seconds = typeof value === 'string' && /^\d+(\.\d+)?$/.test(value) ? Number(value) : NaN;
  if (!(seconds > 0) || seconds > 86400) {
    throw new ApiError(400, 'bad timeout', `timeout must be a number of seconds in (0, 86400], got "${String(value)}"`);
  }
  return Math.round(seconds * 1000);
}

/** ?replace=false → 'update' (partial), anything else → 'replace', as Leshan reads it. */
export function parseWriteMode(value: unknown): 'replace' | 'update' {
  if (value === undefined || value === '' || value === 'true') return 'replace';
  if (value === 'false') return 'update';
  throw new ApiError(400, 'bad request', `replace must be true or false, got "${String(value)}"`);
}
