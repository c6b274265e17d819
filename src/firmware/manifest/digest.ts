import { createHash } from 'node:crypto';
import { COSE_ALG } from './algorithms.js';
import { type CborValue, bytesEqual, decodeCbor, encodeCbor, expectArray, expectBytes, expectInt } from './cbor.js';
import { ManifestError } from './errors.js';
import type { SuitDigest } from './types.js';

export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

export function sha256Digest(data: Uint8Array): SuitDigest {
  return { alg: COSE_ALG.SHA256, bytes: sha256(data) };
}

export function digestToCbor(d: SuitDigest): CborValue {
  return [d.alg, d.bytes];
}

export function parseDigest(v: CborValue, what: string): SuitDigest {
  const arr = expectArray(v, what);
  if (arr.length < 2) throw new ManifestError('bad-structure', `${what} must be [algorithm, bytes]`);
  const alg = expectInt(arr[0], `${what} algorithm`);
  const bytes = expectBytes(arr[1], `${what} bytes`);
  return { alg, bytes };
}

export function parseWrappedDigest(v: CborValue, what: string): SuitDigest {
  return parseDigest(decodeCbor(expectBytes(v, what)), what);
}

/** Checks `data` against `expected`; only SHA-256 is accepted. */
export function checkDigest(expected: SuitDigest, data: Uint8Array, what: string): void {
  if (expected.alg !== COSE_ALG.SHA256) throw new ManifestError('unsupported', `${what}: digest algorithm ${expected.alg} is not supported (SHA-256 only)`);
  if (!bytesEqual(sha256(data), expected.bytes)) throw new ManifestError('digest-mismatch', `${what} does not match its digest`);
}

/** Encoding of a bstr holding `inner`: what SUIT digests for the manifest and severed members. */
export function bstrWrap(inner: Uint8Array): Uint8Array {
  return encodeCbor(inner);
}
