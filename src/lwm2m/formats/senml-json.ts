import { ContentFormat, DecodeError, type MultiNodeCodec } from './types.js';
import { createSenmlCodec, type SenmlOptions, type SenmlRecord } from './senml.js';
import { decodeBase64, decodeUtf8 } from './values.js';

const FORMAT = ContentFormat.SENML_JSON;

/**
 * SenML JSON (RFC 8428, LwM2M 1.1 §7.4.4). Opaque values are base64url in "vd". JSON.parse
 * reads numbers as doubles, so integers beyond 2^53 lose precision on decode (encode is exact).
 */
export function createSenmlJsonCodec(options: SenmlOptions = {}): MultiNodeCodec {
  return createSenmlCodec({ format: FORMAT, serialize, parse, allowNonFinite: false }, options);
}

export const senmlJsonCodec = createSenmlJsonCodec();

const KEY_ORDER = ['bn', 'bt', 'n', 't', 'v', 'vs', 'vb', 'vd', 'vlo'] as const;

/** Written by hand because JSON.stringify cannot write bigint (64-bit integers). */
function serialize(records: SenmlRecord[]): Buffer {
  const parts = records.map((record) => {
    const fields: string[] = [];
    for (const key of KEY_ORDER) {
      const value = record[key];
      if (value === undefined) continue;
      let text: string;
      if (typeof value === 'bigint') text = value.toString();
      else if (Buffer.isBuffer(value)) text = JSON.stringify(value.toString('base64url'));
      else text = JSON.stringify(value);
      fields.push(`"${key}":${text}`);
    }
    return `{${fields.join(',')}}`;
  });
  return Buffer.from(`[${parts.join(',')}]`, 'utf8');
}

function fail(reason: string): never {
  throw new DecodeError(FORMAT, reason);
}

function parse(payload: Buffer): SenmlRecord[] {
  const text = decodeUtf8(payload) ?? fail('payload is not valid UTF-8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return fail(`invalid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(doc)) fail('SenML JSON must be an array of records');
  return doc.map((raw, index) => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(`record ${index} is not an object`);
    const record: SenmlRecord = {};
    for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
      const wrong = (expected: string): never => fail(`record ${index}: "${key}" must be ${expected}`);
      switch (key) {
        case 'bn':
        case 'n':
        case 'vs':
        case 'vlo':
          if (typeof value !== 'string') wrong('a string');
          record[key] = value as string;
          break;
        case 'bt':
        case 't':
          if (typeof value !== 'number') wrong('a number');
          record[key] = value as number;
          break;
        case 'v':
          if (typeof value !== 'number') wrong('a number');
          record.v = value as number;
          break;
        case 'vb':
          if (typeof value !== 'boolean') wrong('a boolean');
          record.vb = value as boolean;
          break;
        case 'vd':
          if (typeof value !== 'string') wrong('a base64url string');
          record.vd = decodeBase64(value as string) ?? wrong('valid base64url');
          break;
        default:
          // RFC 8428 §4.4: labels ending in "_" must be understood; others may be ignored.
          if (key.endsWith('_')) fail(`record ${index}: unsupported mandatory field "${key}"`);
      }
    }
    return record;
  });
}
