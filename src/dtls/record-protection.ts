/**
 * Record payload protection for one direction of one epoch: AES-CCM_8 and AES-GCM (RFC 5288,
 * 6655) and AES-CBC with HMAC-SHA256 (RFC 5246 §6.2.3.2, MAC-then-encrypt), with the RFC 9146
 * inner plaintext and additional data when the record carries a Connection ID.
 *
 * This runs for every record of every session, so it allocates little: nonce and additional
 * data are built in module-level scratch buffers (node:crypto copies both before returning,
 * and nothing here yields between filling and using them), and `sealRecord` writes header
 * and protected fragment into one buffer. A protection keeps only its key bytes.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Ccm8 } from './ccm8.js';
import type { CipherSuite } from './cipher-suites.js';
import { ContentType, RECORD_HEADER_LENGTH } from './constants.js';

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
  /**
   * The whole record (header and protected fragment) in one buffer. `cid` set = a tls12_cid
   * record carrying `innerType` inside; otherwise the outer type is `innerType`.
   */
  sealRecord(version: number, epoch: number, sequence: number, cid: Buffer | undefined, innerType: number, content: Buffer): Buffer;
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
/** seq_num(8) type(1) version(2) length(2), or the RFC 9146 form: 8 + 1 + 1 + 1 + 2 + 8 + cid + 2. */
const MAX_AAD = 23 + 255;

const nonceScratch = Buffer.alloc(12);
const aadScratch = Buffer.alloc(MAX_AAD);
const classicAad = aadScratch.subarray(0, 13);

/** Writes epoch | 48-bit sequence (the record's seq_num) at `at`. */
function writeSeqNum(buf: Buffer, at: number, epoch: number, sequence: number): void {
  const high = Math.floor(sequence / 0x1_0000_0000);
  buf[at] = epoch >>> 8;
  buf[at + 1] = epoch & 0xff;
  buf[at + 2] = high >>> 8;
  buf[at + 3] = high & 0xff;
  buf.writeUInt32BE(sequence >>> 0, at + 4);
}

/** RFC 9146 §5 additional data, or the classic seq_num|type|version|length, in aadScratch. */
function additionalData(type: number, version: number, epoch: number, sequence: number, cid: Buffer | undefined, plaintextLength: number): Buffer {
  if (!cid) {
    writeSeqNum(aadScratch, 0, epoch, sequence);
    aadScratch[8] = type;
    aadScratch[9] = version >>> 8;
    aadScratch[10] = version & 0xff;
    aadScratch[11] = plaintextLength >>> 8;
    aadScratch[12] = plaintextLength & 0xff;
    return classicAad;
  }
  aadScratch.fill(0xff, 0, 8);
  aadScratch[8] = ContentType.Tls12Cid;
  aadScratch[9] = cid.length;
  aadScratch[10] = ContentType.Tls12Cid;
  aadScratch[11] = version >>> 8;
  aadScratch[12] = version & 0xff;
  writeSeqNum(aadScratch, 13, epoch, sequence);
  cid.copy(aadScratch, 21);
  const at = 21 + cid.length;
  aadScratch[at] = plaintextLength >>> 8;
  aadScratch[at + 1] = plaintextLength & 0xff;
  return aadScratch.subarray(0, at + 2);
}

/** CID records wrap content as content | real_type | zeros (we send no zeros). */
function innerPlaintext(cid: Buffer | undefined, innerType: number, content: Buffer): Buffer {
  if (!cid) return content;
  const out = Buffer.allocUnsafe(content.length + 1);
  content.copy(out, 0);
  out[content.length] = innerType;
  return out;
}

function unwrapInner(type: number, cid: Buffer | undefined, plaintext: Buffer): OpenedRecord | undefined {
  if (!cid) return { type, content: plaintext };
  let end = plaintext.length - 1;
  while (end >= 0 && plaintext[end] === 0) end--;
  if (end < 0) return undefined;
  return { type: plaintext[end], content: plaintext.subarray(0, end) };
}

/** Record header (RFC 6347 §4.1, RFC 9146 §4) at the start of `out`; returns its length. */
function writeHeader(out: Buffer, type: number, version: number, epoch: number, sequence: number, cid: Buffer | undefined, fragmentLength: number): number {
  out[0] = type;
  out[1] = version >>> 8;
  out[2] = version & 0xff;
  writeSeqNum(out, 3, epoch, sequence);
  let at = 11;
  if (cid) {
    cid.copy(out, at);
    at += cid.length;
  }
  out[at] = fragmentLength >>> 8;
  out[at + 1] = fragmentLength & 0xff;
  return at + 2;
}

export function createRecordProtection(suite: CipherSuite, keys: DirectionKeys): RecordProtection {
  return suite.cipher === 'aes-128-cbc-sha256' ? new CbcProtection(keys) : new AeadProtection(suite.cipher, keys);
}

type AeadCipher = 'aes-128-ccm8' | 'aes-128-gcm';
const tagLengthOf = (cipher: AeadCipher): number => (cipher === 'aes-128-ccm8' ? 8 : 16);
const algorithmOf = (cipher: AeadCipher): 'aes-128-ccm' => (cipher === 'aes-128-ccm8' ? 'aes-128-ccm' : 'aes-128-gcm') as 'aes-128-ccm';

/** AEAD encryption with a 12-byte nonce; returns ciphertext | tag. */
export function aeadSeal(cipher: AeadCipher, key: Buffer, nonce: Buffer, aad: Buffer, plaintext: Buffer): Buffer {
  const c = createCipheriv(algorithmOf(cipher), key, nonce, { authTagLength: tagLengthOf(cipher) });
  c.setAAD(aad, { plaintextLength: plaintext.length });
  return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
}

/** AEAD decryption; undefined when the tag does not verify. */
export function aeadOpen(cipher: AeadCipher, key: Buffer, nonce: Buffer, aad: Buffer, ciphertext: Buffer, tag: Buffer): Buffer | undefined {
  try {
    const d = createDecipheriv(algorithmOf(cipher), key, nonce, { authTagLength: tagLengthOf(cipher) });
    d.setAuthTag(tag);
    d.setAAD(aad, { plaintextLength: ciphertext.length });
    const plaintext = d.update(ciphertext);
    const rest = d.final();
    return rest.length === 0 ? plaintext : Buffer.concat([plaintext, rest]);
  } catch {
    return undefined;
  }
}

class AeadProtection implements RecordProtection {
  private readonly algorithm: 'aes-128-ccm';
  private readonly tagLength: number;
  private readonly key: Buffer;
  /** CCM_8 on long-lived contexts (see ccm8.ts); GCM goes through node:crypto one-shot. */
  private readonly ccm?: Ccm8;
  /** The 4-byte implicit part of the nonce (RFC 5288 §3 salt), as a number. */
  private readonly salt: number;

  constructor(cipher: AeadCipher, keys: DirectionKeys) {
    this.algorithm = algorithmOf(cipher);
    this.tagLength = tagLengthOf(cipher);
    this.key = Buffer.from(keys.encKey);
    this.salt = keys.fixedIv.readUInt32BE(0);
    if (cipher === 'aes-128-ccm8') this.ccm = new Ccm8(this.key);
  }

  seal(h: RecordHeaderFields, innerType: number, content: Buffer): Buffer {
    return this.sealInto(0, h.type, h.version, h.epoch, h.sequence, h.cid, innerType, content);
  }

  sealRecord(version: number, epoch: number, sequence: number, cid: Buffer | undefined, innerType: number, content: Buffer): Buffer {
    return this.sealInto(RECORD_HEADER_LENGTH + (cid ? cid.length : 0), cid ? ContentType.Tls12Cid : innerType, version, epoch, sequence, cid, innerType, content, true);
  }

  /** Protects into a new buffer that leaves `headerRoom` bytes in front (filled when `withHeader`). */
  private sealInto(headerRoom: number, outerType: number, version: number, epoch: number, sequence: number, cid: Buffer | undefined, innerType: number, content: Buffer, withHeader = false): Buffer {
    const plaintext = innerPlaintext(cid, innerType, content);
    nonceScratch.writeUInt32BE(this.salt, 0);
    writeSeqNum(nonceScratch, 4, epoch, sequence);
    const aad = additionalData(outerType, version, epoch, sequence, cid, plaintext.length);
    let sealed: Buffer;
    if (this.ccm) {
      sealed = this.ccm.seal(nonceScratch, aad, plaintext);
    } else {
      const c = createCipheriv(this.algorithm, this.key, nonceScratch, { authTagLength: this.tagLength });
      c.setAAD(aad, { plaintextLength: plaintext.length });
      sealed = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
    }
    const fragmentLength = EXPLICIT_NONCE + sealed.length;
    const out = Buffer.allocUnsafe(headerRoom + fragmentLength);
    if (withHeader) writeHeader(out, outerType, version, epoch, sequence, cid, fragmentLength);
    // The explicit nonce is the record's own seq_num: unique per key by construction.
    nonceScratch.copy(out, headerRoom, 4, 12);
    sealed.copy(out, headerRoom + EXPLICIT_NONCE);
    return out;
  }

  open(h: RecordHeaderFields, fragment: Buffer): OpenedRecord | undefined {
    const plaintextLength = fragment.length - EXPLICIT_NONCE - this.tagLength;
    if (plaintextLength < 0) return undefined;
    nonceScratch.writeUInt32BE(this.salt, 0);
    fragment.copy(nonceScratch, 4, 0, EXPLICIT_NONCE);
    let plaintext: Buffer;
    if (this.ccm) {
      const aad = additionalData(h.type, h.version, h.epoch, h.sequence, h.cid, plaintextLength);
      const opened = this.ccm.open(nonceScratch, aad, fragment.subarray(EXPLICIT_NONCE, EXPLICIT_NONCE + plaintextLength), fragment.subarray(EXPLICIT_NONCE + plaintextLength));
      return opened ? unwrapInner(h.type, h.cid, opened) : undefined;
    }
    try {
      const d = createDecipheriv(this.algorithm, this.key, nonceScratch, { authTagLength: this.tagLength });
      d.setAuthTag(fragment.subarray(EXPLICIT_NONCE + plaintextLength));
      d.setAAD(additionalData(h.type, h.version, h.epoch, h.sequence, h.cid, plaintextLength), { plaintextLength });
      plaintext = d.update(fragment.subarray(EXPLICIT_NONCE, EXPLICIT_NONCE + plaintextLength));
      const rest = d.final();
      if (rest.length > 0) plaintext = Buffer.concat([plaintext, rest]);
    } catch {
      return undefined;
    }
    return unwrapInner(h.type, h.cid, plaintext);
  }
}

class CbcProtection implements RecordProtection {
  private readonly encKey: Buffer;
  private readonly macKey: Buffer;

  constructor(keys: DirectionKeys) {
    this.encKey = Buffer.from(keys.encKey);
    this.macKey = Buffer.from(keys.macKey);
  }

  private mac(type: number, version: number, epoch: number, sequence: number, cid: Buffer | undefined, plaintext: Buffer): Buffer {
    return createHmac('sha256', this.macKey).update(additionalData(type, version, epoch, sequence, cid, plaintext.length)).update(plaintext).digest();
  }

  seal(h: RecordHeaderFields, innerType: number, content: Buffer): Buffer {
    return this.sealInto(0, h.type, h.version, h.epoch, h.sequence, h.cid, innerType, content, false);
  }

  sealRecord(version: number, epoch: number, sequence: number, cid: Buffer | undefined, innerType: number, content: Buffer): Buffer {
    return this.sealInto(RECORD_HEADER_LENGTH + (cid ? cid.length : 0), cid ? ContentType.Tls12Cid : innerType, version, epoch, sequence, cid, innerType, content, true);
  }

  private sealInto(headerRoom: number, outerType: number, version: number, epoch: number, sequence: number, cid: Buffer | undefined, innerType: number, content: Buffer, withHeader: boolean): Buffer {
    const plaintext = innerPlaintext(cid, innerType, content);
    const mac = this.mac(outerType, version, epoch, sequence, cid, plaintext);
    const unpadded = plaintext.length + MAC_LENGTH;
    const padLength = BLOCK - 1 - (unpadded % BLOCK);
    const padded = Buffer.allocUnsafe(unpadded + padLength + 1);
    plaintext.copy(padded, 0);
    mac.copy(padded, plaintext.length);
    padded.fill(padLength, unpadded);
    const iv = randomBytes(BLOCK);
    const c = createCipheriv('aes-128-cbc', this.encKey, iv).setAutoPadding(false);
    const encrypted = c.update(padded);
    const rest = c.final();
    const fragmentLength = BLOCK + encrypted.length + rest.length;
    const out = Buffer.allocUnsafe(headerRoom + fragmentLength);
    if (withHeader) writeHeader(out, outerType, version, epoch, sequence, cid, fragmentLength);
    let at = headerRoom + iv.copy(out, headerRoom);
    at += encrypted.copy(out, at);
    rest.copy(out, at);
    return out;
  }

  open(h: RecordHeaderFields, fragment: Buffer): OpenedRecord | undefined {
    const bodyLength = fragment.length - BLOCK;
    if (bodyLength < MAC_LENGTH + 1 || bodyLength % BLOCK !== 0) return undefined;
    const d = createDecipheriv('aes-128-cbc', this.encKey, fragment.subarray(0, BLOCK)).setAutoPadding(false);
    const padded = Buffer.concat([d.update(fragment.subarray(BLOCK)), d.final()]);
    // Check padding and MAC together and always compute the MAC, so a bad pad and a bad
    // MAC look alike from outside (Lucky 13 / padding-oracle hygiene).
    const padLength = padded[padded.length - 1];
    let goodPad = padLength + 1 + MAC_LENGTH <= padded.length;
    const effectivePad = goodPad ? padLength + 1 : 0;
    for (let i = padded.length - effectivePad; i < padded.length; i++) goodPad = goodPad && padded[i] === padLength;
    const plaintext = padded.subarray(0, padded.length - effectivePad - MAC_LENGTH);
    const received = padded.subarray(plaintext.length, plaintext.length + MAC_LENGTH);
    const expected = this.mac(h.type, h.version, h.epoch, h.sequence, h.cid, plaintext);
    const goodMac = timingSafeEqual(received, expected);
    if (!(goodPad && goodMac)) return undefined;
    return unwrapInner(h.type, h.cid, plaintext);
  }
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
