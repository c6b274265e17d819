/**
 * Record payload protection for one direction of one epoch: AES-CCM_8 and AES-GCM (RFC 5288,
 * 6655) and AES-CBC with HMAC-SHA256 (RFC 5246 §6.2.3.2, MAC-then-encrypt), with the RFC 9146
 * inner plaintext and additional data when the record carries a Connection ID.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { u16, u48, u8 } from './bytes.js';
import type { CipherSuite } from './cipher-suites.js';
import { ContentType } from './constants.js';

export interface RecordHeaderFields {
  type: number;
  version: number;
  epoch: number;
  sequence: number;
  cid?: Buffer;
}

export interface OpenedRecord {
  /** The real content type (from inside the record when it carried a CID). */
  type: number;
  content: Buffer;
}

export interface RecordProtection {
  /** Returns the record fragment; `header.type` must already be 25 when a CID is used. */
  seal(header: RecordHeaderFields, innerType: number, content: Buffer): Buffer;
  /** undefined = authentication failed or malformed: the caller drops the record silently. */
  open(header: RecordHeaderFields, fragment: Buffer): OpenedRecord | undefined;
}

export interface DirectionKeys {
  macKey: Buffer;
  encKey: Buffer;
  fixedIv: Buffer;
}

const EXPLICIT_NONCE = 8;
const MAC_LENGTH = 32;
const BLOCK = 16;

const seqNum = (h: RecordHeaderFields): Buffer => Buffer.concat([u16(h.epoch), u48(h.sequence)]);

/** RFC 9146 §5 additional data, or the classic seq_num|type|version|length. */
function additionalData(h: RecordHeaderFields, plaintextLength: number): Buffer {
  if (h.cid) {
    return Buffer.concat([
      Buffer.alloc(8, 0xff),
      u8(ContentType.Tls12Cid),
      u8(h.cid.length),
      u8(ContentType.Tls12Cid),
      u16(h.version),
      seqNum(h),
      h.cid,
      u16(plaintextLength),
    ]);
  }
  return Buffer.concat([seqNum(h), u8(h.type), u16(h.version), u16(plaintextLength)]);
}

/** CID records wrap content as content | real_type | zeros (we send no zeros). */
function innerPlaintext(h: RecordHeaderFields, innerType: number, content: Buffer): Buffer {
  return h.cid ? Buffer.concat([content, u8(innerType)]) : content;
}

function unwrapInner(h: RecordHeaderFields, plaintext: Buffer): OpenedRecord | undefined {
  if (!h.cid) return { type: h.type, content: plaintext };
  let end = plaintext.length - 1;
  while (end >= 0 && plaintext[end] === 0) end--;
  if (end < 0) return undefined;
  return { type: plaintext[end], content: plaintext.subarray(0, end) };
}

export function createRecordProtection(suite: CipherSuite, keys: DirectionKeys): RecordProtection {
  return suite.cipher === 'aes-128-cbc-sha256' ? cbcProtection(keys) : aeadProtection(suite.cipher, keys);
}

type AeadCipher = 'aes-128-ccm8' | 'aes-128-gcm';
const tagLengthOf = (cipher: AeadCipher): number => (cipher === 'aes-128-ccm8' ? 8 : 16);

/** AEAD encryption with a 12-byte nonce; returns ciphertext | tag. */
export function aeadSeal(cipher: AeadCipher, key: Buffer, nonce: Buffer, aad: Buffer, plaintext: Buffer): Buffer {
  const algorithm = cipher === 'aes-128-ccm8' ? 'aes-128-ccm' : 'aes-128-gcm';
  const c = createCipheriv(algorithm as 'aes-128-ccm', key, nonce, { authTagLength: tagLengthOf(cipher) });
  c.setAAD(aad, { plaintextLength: plaintext.length });
  return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
}

/** AEAD decryption; undefined when the tag does not verify. */
export function aeadOpen(cipher: AeadCipher, key: Buffer, nonce: Buffer, aad: Buffer, ciphertext: Buffer, tag: Buffer): Buffer | undefined {
  const algorithm = cipher === 'aes-128-ccm8' ? 'aes-128-ccm' : 'aes-128-gcm';
  try {
    const d = createDecipheriv(algorithm as 'aes-128-ccm', key, nonce, { authTagLength: tagLengthOf(cipher) });
    d.setAuthTag(tag);
    d.setAAD(aad, { plaintextLength: ciphertext.length });
    return Buffer.concat([d.update(ciphertext), d.final()]);
  } catch {
    return undefined;
  }
}

function aeadProtection(cipher: AeadCipher, keys: DirectionKeys): RecordProtection {
  const tagLength = tagLengthOf(cipher);
  return {
    seal(h, innerType, content) {
      const plaintext = innerPlaintext(h, innerType, content);
      const explicit = seqNum(h);
      const nonce = Buffer.concat([keys.fixedIv, explicit]);
      return Buffer.concat([explicit, aeadSeal(cipher, keys.encKey, nonce, additionalData(h, plaintext.length), plaintext)]);
    },
    open(h, fragment) {
      const plaintextLength = fragment.length - EXPLICIT_NONCE - tagLength;
      if (plaintextLength < 0) return undefined;
      const nonce = Buffer.concat([keys.fixedIv, fragment.subarray(0, EXPLICIT_NONCE)]);
      const body = fragment.subarray(EXPLICIT_NONCE, EXPLICIT_NONCE + plaintextLength);
      const tag = fragment.subarray(EXPLICIT_NONCE + plaintextLength);
      const plaintext = aeadOpen(cipher, keys.encKey, nonce, additionalData(h, plaintextLength), body, tag);
      return plaintext ? unwrapInner(h, plaintext) : undefined;
    },
  };
}

function cbcProtection(keys: DirectionKeys): RecordProtection {
  const mac = (h: RecordHeaderFields, plaintext: Buffer): Buffer =>
    createHmac('sha256', keys.macKey).update(additionalData(h, plaintext.length)).update(plaintext).digest();
  return {
    seal(h, innerType, content) {
      const plaintext = innerPlaintext(h, innerType, content);
      const withMac = Buffer.concat([plaintext, mac(h, plaintext)]);
      const padLength = BLOCK - 1 - (withMac.length % BLOCK);
      const padded = Buffer.concat([withMac, Buffer.alloc(padLength + 1, padLength)]);
      const iv = randomBytes(BLOCK);
      const c = createCipheriv('aes-128-cbc', keys.encKey, iv).setAutoPadding(false);
      return Buffer.concat([iv, c.update(padded), c.final()]);
    },
    open(h, fragment) {
      const bodyLength = fragment.length - BLOCK;
      if (bodyLength < MAC_LENGTH + 1 || bodyLength % BLOCK !== 0) return undefined;
      const d = createDecipheriv('aes-128-cbc', keys.encKey, fragment.subarray(0, BLOCK)).setAutoPadding(false);
      const padded = Buffer.concat([d.update(fragment.subarray(BLOCK)), d.final()]);
      // Check padding and MAC together and always compute the MAC, so a bad pad and a bad
      // MAC look alike from outside (Lucky 13 / padding-oracle hygiene).
      const padLength = padded[padded.length - 1];
      let goodPad = padLength + 1 + MAC_LENGTH <= padded.length;
      const effectivePad = goodPad ? padLength + 1 : 0;
      for (let i = padded.length - effectivePad; i < padded.length; i++) goodPad = goodPad && padded[i] === padLength;
      const plaintext = padded.subarray(0, padded.length - effectivePad - MAC_LENGTH);
      const received = padded.subarray(plaintext.length, plaintext.length + MAC_LENGTH);
      const expected = mac(h, plaintext);
      const goodMac = timingSafeEqual(received, expected);
      if (!(goodPad && goodMac)) return undefined;
      return unwrapInner(h, plaintext);
    },
  };
}

/** Splits a key block into (client write, server write) keys, RFC 5246 §6.3 order. */
export function splitKeyBlock(suite: CipherSuite, block: Buffer): { client: DirectionKeys; server: DirectionKeys } {
  let at = 0;
  const take = (n: number): Buffer => {
    const v = block.subarray(at, at + n);
    at += n;
    return Buffer.from(v);
  };
  const clientMac = take(suite.macKeyLength);
  const serverMac = take(suite.macKeyLength);
  const clientKey = take(suite.encKeyLength);
  const serverKey = take(suite.encKeyLength);
  const clientIv = take(suite.fixedIvLength);
  const serverIv = take(suite.fixedIvLength);
  return {
    client: { macKey: clientMac, encKey: clientKey, fixedIv: clientIv },
    server: { macKey: serverMac, encKey: serverKey, fixedIv: serverIv },
  };
}

/** Worst-case bytes a sealed record adds to its content (for fitting flights into the PMTU). */
export function sealOverhead(suite: CipherSuite | undefined, withCid: boolean): number {
  const inner = withCid ? 1 : 0;
  if (!suite) return inner;
  if (suite.cipher === 'aes-128-cbc-sha256') return BLOCK + MAC_LENGTH + BLOCK + inner;
  return EXPLICIT_NONCE + (suite.cipher === 'aes-128-ccm8' ? 8 : 16) + inner;
}
