import { Encoder, Tag } from 'cbor-x';
import { ManifestError } from './errors.js';

/**
 * The CBOR data model we use: maps are always `Map` (integer keys are the norm in SUIT/COSE),
 * byte strings are `Uint8Array`, tags are `Tagged`.
 */
export type CborValue =
  | number
  | bigint
  | string
  | boolean
  | null
  | undefined
  | Uint8Array
  | CborValue[]
  | CborMap
  | Tagged;
export type CborMap = Map<CborValue, CborValue>;

export class Tagged {
  constructor(
    readonly tag: number,
    readonly value: CborValue,
  ) {}
}

// ---------------------------------------------------------------------------------------------
// Encoding: cbor-x does the byte work; we first bring values into deterministic form
// (RFC 8949 §4.2.1: map keys sorted by their encoded bytes, integers in their shortest form).

const encoder = new Encoder({
  useRecords: false,
  mapsAsObjects: false,
  tagUint8Array: false,
  variableMapSize: true,
  useFloat32: 0,
});

function encodeRaw(value: unknown): Uint8Array {
  return new Uint8Array(encoder.encode(value));
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function toEncodable(value: CborValue): unknown {
  if (value instanceof Tagged) return new Tag(toEncodable(value.value), value.tag);
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (Array.isArray(value)) return value.map(toEncodable);
  if (value instanceof Map) {
    const entries = [...value.entries()].map(([k, v]) => {
      const key = toEncodable(k);
      return { key, sortKey: encodeRaw(key), value: toEncodable(v) };
    });
    entries.sort((a, b) => compareBytes(a.sortKey, b.sortKey));
    for (let i = 1; i < entries.length; i++) {
      if (compareBytes(entries[i - 1].sortKey, entries[i].sortKey) === 0) {
        throw new ManifestError('bad-structure', 'duplicate map key while encoding');
      }
    }
    return new Map(entries.map((e) => [e.key, e.value]));
  }
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new ManifestError('bad-structure', 'floats are not used in manifests');
    // cbor-x writes integers beyond 32 bits as float64; a bigint keeps them integral.
    if (value > 0xffffffff || value < -0x100000000) return BigInt(value);
  }
  return value;
}

/** Deterministic CBOR encoding. */
export function encodeCbor(value: CborValue): Uint8Array {
  return encodeRaw(toEncodable(value));
}

// ---------------------------------------------------------------------------------------------
// Decoding: our own strict reader, because manifests are attacker input. It refuses duplicate
// map keys, indefinite lengths, floats and trailing bytes, bounds nesting depth, and never
// allocates more than the input could describe.

const MAX_DEPTH = 32;

class Reader {
  pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  fail(msg: string): never {
    throw new ManifestError('bad-cbor', `${msg} at byte ${this.pos}`);
  }

  byte(): number {
    if (this.pos >= this.buf.length) this.fail('unexpected end of input');
    return this.buf[this.pos++];
  }

  bytes(n: number): Uint8Array {
    if (n > this.buf.length - this.pos) this.fail('length runs past end of input');
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  argument(info: number): number | bigint {
    if (info < 24) return info;
    let len: number;
    if (info === 24) len = 1;
    else if (info === 25) len = 2;
    else if (info === 26) len = 4;
    else if (info === 27) len = 8;
    else this.fail(info === 31 ? 'indefinite lengths are not allowed' : 'reserved additional info');
    let v = 0n;
    for (let i = 0; i < len; i++) v = (v << 8n) | BigInt(this.byte());
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  length(info: number): number {
    const n = this.argument(info);
    if (typeof n === 'bigint' || n > this.buf.length - this.pos) this.fail('length exceeds input');
    return n as number;
  }

  item(depth: number): CborValue {
    if (depth > MAX_DEPTH) this.fail('nesting too deep');
    const initial = this.byte();
    const major = initial >> 5;
    const info = initial & 0x1f;
    switch (major) {
      case 0:
        return this.argument(info);
      case 1: {
        const n = this.argument(info);
        return typeof n === 'bigint' || n >= Number.MAX_SAFE_INTEGER ? -1n - BigInt(n) : -1 - n;
      }
      case 2:
        return this.bytes(this.length(info));
      case 3: {
        const raw = this.bytes(this.length(info));
        try {
          return new TextDecoder('utf-8', { fatal: true }).decode(raw);
        } catch {
          return this.fail('invalid UTF-8 in text string');
        }
      }
      case 4: {
        const n = this.length(info);
        const out: CborValue[] = [];
        for (let i = 0; i < n; i++) out.push(this.item(depth + 1));
        return out;
      }
      case 5: {
        const n = this.length(info);
        const out: CborMap = new Map();
        const seen = new Set<string>();
        for (let i = 0; i < n; i++) {
          const start = this.pos;
          const key = this.item(depth + 1);
          const keyId = Buffer.from(this.buf.subarray(start, this.pos)).toString('hex');
          if (seen.has(keyId)) this.fail('duplicate map key');
          seen.add(keyId);
          // Only scalar keys compare by value in a JS Map; structured keys keep identity,
          // which is fine because we look them up by iterating.
          out.set(key, this.item(depth + 1));
        }
        return out;
      }
      case 6: {
        const tag = this.argument(info);
        if (typeof tag === 'bigint') this.fail('tag number too large');
        return new Tagged(tag as number, this.item(depth + 1));
      }
      default: {
        if (info === 20) return false;
        if (info === 21) return true;
        if (info === 22) return null;
        if (info === 23) return undefined;
        return this.fail('floating point and simple values are not allowed');
      }
    }
  }
}

/** Decodes exactly one CBOR item occupying all of `bytes`; throws ManifestError('bad-cbor'). */
export function decodeCbor(bytes: Uint8Array): CborValue {
  const reader = new Reader(bytes);
  const value = reader.item(0);
  if (reader.pos !== bytes.length) reader.fail('trailing bytes after CBOR item');
  return value;
}

// ---------------------------------------------------------------------------------------------
// Shape guards used by every parser: they turn "wrong type here" into a readable ManifestError.

export function expectMap(v: CborValue, what: string): CborMap {
  if (!(v instanceof Map)) throw new ManifestError('bad-structure', `${what} must be a map`);
  return v;
}
export function expectArray(v: CborValue, what: string): CborValue[] {
  if (!Array.isArray(v)) throw new ManifestError('bad-structure', `${what} must be an array`);
  return v;
}
export function expectBytes(v: CborValue, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new ManifestError('bad-structure', `${what} must be a byte string`);
  return v;
}
export function expectInt(v: CborValue, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new ManifestError('bad-structure', `${what} must be an integer`);
  return v;
}
export function expectUint(v: CborValue, what: string): number {
  const n = expectInt(v, what);
  if (n < 0) throw new ManifestError('bad-structure', `${what} must not be negative`);
  return n;
}
export function expectText(v: CborValue, what: string): string {
  if (typeof v !== 'string') throw new ManifestError('bad-structure', `${what} must be a text string`);
  return v;
}
export function expectTag(v: CborValue, tag: number, what: string): CborValue {
  if (!(v instanceof Tagged) || v.tag !== tag) throw new ManifestError('bad-structure', `${what} must carry CBOR tag ${tag}`);
  return v.value;
}
/** Decodes a byte string that wraps CBOR (`bstr .cbor X`). */
export function decodeWrapped(v: CborValue, what: string): CborValue {
  return decodeCbor(expectBytes(v, what));
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && compareBytes(a, b) === 0;
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}
export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/[^0-9a-fA-F]/g, '');
  return new Uint8Array(Buffer.from(clean, 'hex'));
}
