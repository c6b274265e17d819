import { Decoder, Encoder } from 'cbor-x';

/**
 * Plain RFC 8949 CBOR through cbor-x: its record/structure extensions are off (other
 * implementations would not understand them) and maps decode as Map so integer keys survive.
 */
const encoder = new Encoder({ useRecords: false, mapsAsObjects: false, variableMapSize: true, tagUint8Array: false });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: false });

export function encodeCbor(value: unknown): Buffer {
  return Buffer.from(encoder.encode(value));
}

/** Throws whatever cbor-x throws; callers turn it into a DecodeError. */
export function decodeCbor(payload: Buffer): unknown {
  return decoder.decode(payload);
}
