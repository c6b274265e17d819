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
      // Field by field, in label order: this runs for every record of every read and notification.
      const map = new Map<number | string, unknown>();
      if (record.bn !== undefined) map.set(LABELS.bn, record.bn);
      if (record.bt !== undefined) map.set(LABELS.bt, record.bt);
      if (record.n !== undefined) map.set(LABELS.n, record.n);
      if (record.v !== undefined) map.set(LABELS.v, record.v);
      if (record.vs !== undefined) map.set(LABELS.vs, record.vs);
      if (record.vb !== undefined) map.set(LABELS.vb, record.vb);
      if (record.t !== undefined) map.set(LABELS.t, record.t);
      if (record.vd !== undefined) map.set(LABELS.vd, record.vd);
      if (record.vlo !== undefined) map.set(LABELS.vlo, record.vlo);
      return map;
    }),
  );
}

function fail(reason: string): never {
  throw new DecodeError(FORMAT, reason);
}

function wrongField(index: number, name: string | undefined, expected: string): never {
  return fail(`record ${index}: "${name}" must be ${expected}`);
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
      switch (name) {
        case 'bn':
        case 'n':
        case 'vs':
        case 'vlo':
          if (typeof value !== 'string') wrongField(index, name, 'a text string');
          record[name] = value as string;
          break;
        case 'bt':
        case 't':
          if (typeof value !== 'number' && typeof value !== 'bigint') wrongField(index, name, 'a number');
          record[name] = Number(value);
          break;
        case 'v':
          if (typeof value !== 'number' && typeof value !== 'bigint') wrongField(index, name, 'a number');
          record.v = value as number | bigint;
          break;
        case 'vb':
          if (typeof value !== 'boolean') wrongField(index, name, 'a boolean');
          record.vb = value as boolean;
          break;
        case 'vd':
          if (!(value instanceof Uint8Array)) wrongField(index, name, 'a byte string');
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
