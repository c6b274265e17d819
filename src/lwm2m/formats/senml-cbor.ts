import { ContentFormat, DecodeError, type MultiNodeCodec } from './types.js';
import { createSenmlCodec, type SenmlOptions, type SenmlRecord } from './senml.js';
import { decodeCbor, encodeCbor } from './cbor.js';

const FORMAT = ContentFormat.SENML_CBOR;

/** RFC 8428 §6 integer labels; LwM2M's object link value keeps the text label "vlo". */
const LABELS = { bn: -2, bt: -3, n: 0, v: 2, vs: 3, vb: 4, t: 6, vd: 8, vlo: 'vlo' } as const;
const BY_LABEL = new Map<number | string, keyof typeof LABELS>(
  Object.entries(LABELS).map(([name, label]) => [label, name as keyof typeof LABELS]),
);

/** SenML CBOR (RFC 8428 §6, LwM2M 1.1 §7.4.5): opaque values are CBOR byte strings. */
export function createSenmlCborCodec(options: SenmlOptions = {}): MultiNodeCodec {
  return createSenmlCodec({ format: FORMAT, serialize, parse, allowNonFinite: true }, options);
}

export const senmlCborCodec = createSenmlCborCodec();

function serialize(records: SenmlRecord[]): Buffer {
  return encodeCbor(
    records.map((record) => {
      const map = new Map<number | string, unknown>();
      for (const [name, label] of Object.entries(LABELS)) {
        const value = record[name as keyof SenmlRecord];
        if (value !== undefined) map.set(label, value);
      }
      return map;
    }),
  );
}

function fail(reason: string): never {
  throw new DecodeError(FORMAT, reason);
}

function parse(payload: Buffer): SenmlRecord[] {
  let doc: unknown;
  try {
    doc = decodeCbor(payload);
  } catch (err) {
    return fail(`invalid CBOR: ${(err as Error).message}`);
  }
  if (!Array.isArray(doc)) fail('SenML CBOR must be an array of records');
  return doc.map((raw, index) => {
    if (!(raw instanceof Map)) fail(`record ${index} is not a map`);
    const record: SenmlRecord = {};
    for (const [label, value] of raw as Map<unknown, unknown>) {
      const name = typeof label === 'number' || typeof label === 'string' ? BY_LABEL.get(label) : undefined;
      const wrong = (expected: string): never => fail(`record ${index}: "${name}" must be ${expected}`);
      switch (name) {
        case 'bn':
        case 'n':
        case 'vs':
        case 'vlo':
          if (typeof value !== 'string') wrong('a text string');
          record[name] = value as string;
          break;
        case 'bt':
        case 't':
          if (typeof value !== 'number' && typeof value !== 'bigint') wrong('a number');
          record[name] = Number(value);
          break;
        case 'v':
          if (typeof value !== 'number' && typeof value !== 'bigint') wrong('a number');
          record.v = value as number | bigint;
          break;
        case 'vb':
          if (typeof value !== 'boolean') wrong('a boolean');
          record.vb = value as boolean;
          break;
        case 'vd':
          if (!(value instanceof Uint8Array)) wrong('a byte string');
          record.vd = Buffer.from(value as Uint8Array);
          break;
        case undefined:
          // RFC 8428 §4.4: labels ending in "_" must be understood; others may be ignored.
          if (typeof label === 'string' && label.endsWith('_')) fail(`record ${index}: unsupported mandatory field "${label}"`);
          break;
      }
    }
    return record;
  });
}
