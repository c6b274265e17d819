/**
 * AES-128-CCM with 8-byte tags and 12-byte nonces (RFC 3610 with M = 8, L = 3; the DTLS
 * CCM_8 suites of RFC 6655) on two long-lived OpenSSL contexts per key.
 *
 * Why: node:crypto needs a new cipher object per CCM message (the nonce is fixed at
 * creation), and creating one costs about four times the AES work of a small record.
 * CCM is CBC-MAC plus counter mode, both plain AES: an `aes-128-cbc` context computes the
 * MAC (its chaining value carries over between calls, so each message's first block is
 * XORed with the previous call's last output, which cancels it), and an `aes-128-ecb`
 * context encrypts the counter blocks. AES stays in OpenSSL (constant time); JavaScript only
 * lays out blocks and XORs, independent of secret values; tags are compared in constant time.
 *
 * Contexts cost memory, so only busy keys hold them: a key earns them after a few messages,
 * and at most MAX_LIVE keys keep them (the oldest lose theirs and fall back to one-shot).
 */
import { createCipheriv, createDecipheriv, timingSafeEqual, type Cipher } from 'node:crypto';

const TAG = 8;
const NONCE = 12;
/** Messages a key handles one-shot before it gets contexts (handshakes stay cheap in memory). */
const WARM_USES = 3;
const MAX_LIVE = 2048;

interface Contexts {
  readonly owner: Ccm8;
  readonly mac: Cipher;
  readonly ctr: Cipher;
  /** The MAC context's chaining value: the last block it output. */
  readonly chain: Buffer;
}

const live: Array<Contexts | undefined> = new Array(MAX_LIVE);
let nextLive = 0;

export class Ccm8 {
  private uses = 0;
  private contexts?: Contexts;

  constructor(private readonly key: Buffer) {}

  /** ciphertext | 8-byte tag. */
  seal(nonce: Buffer, aad: Buffer, plaintext: Buffer): Buffer {
    const cx = this.contextsForUse();
    if (!cx) {
      const c = createCipheriv('aes-128-ccm', this.key, nonce, { authTagLength: TAG });
      c.setAAD(aad, { plaintextLength: plaintext.length });
      const encrypted = c.update(plaintext);
      c.final();
      const out = Buffer.allocUnsafe(encrypted.length + TAG);
      encrypted.copy(out, 0);
      c.getAuthTag().copy(out, encrypted.length);
      return out;
    }
    const stream = keystream(cx, nonce, plaintext.length);
    const tag = cbcMac(cx, nonce, aad, plaintext);
    const out = Buffer.allocUnsafe(plaintext.length + TAG);
    for (let i = 0; i < plaintext.length; i++) out[i] = plaintext[i] ^ stream[16 + i];
    for (let i = 0; i < TAG; i++) out[plaintext.length + i] = tag[i] ^ stream[i];
    return out;
  }

  /** The plaintext, or undefined when the tag does not verify. */
  open(nonce: Buffer, aad: Buffer, ciphertext: Buffer, tag: Buffer): Buffer | undefined {
    if (tag.length !== TAG) return undefined;
    const cx = this.contextsForUse();
    if (!cx) {
      try {
        const d = createDecipheriv8(this.key, nonce);
        d.setAuthTag(tag);
        d.setAAD(aad, { plaintextLength: ciphertext.length });
        const plaintext = d.update(ciphertext);
        d.final();
        return plaintext;
      } catch {
        return undefined;
      }
    }
    const stream = keystream(cx, nonce, ciphertext.length);
    const plaintext = Buffer.allocUnsafe(ciphertext.length);
    for (let i = 0; i < ciphertext.length; i++) plaintext[i] = ciphertext[i] ^ stream[16 + i];
    const expected = cbcMac(cx, nonce, aad, plaintext);
    for (let i = 0; i < TAG; i++) expected[i] ^= stream[i];
    return timingSafeEqual(expected.subarray(0, TAG), tag) ? plaintext : undefined;
  }

  private contextsForUse(): Contexts | undefined {
    if (this.contexts) return this.contexts;
    if (++this.uses <= WARM_USES) return undefined;
    const evicted = live[nextLive];
    if (evicted) evicted.owner.contexts = undefined;
    const cx: Contexts = {
      owner: this,
      mac: createCipheriv('aes-128-cbc', this.key, Buffer.alloc(16)).setAutoPadding(false),
      ctr: createCipheriv('aes-128-ecb', this.key, null).setAutoPadding(false),
      chain: Buffer.alloc(16),
    };
    live[nextLive] = cx;
    nextLive = (nextLive + 1) % MAX_LIVE;
    this.contexts = cx;
    return cx;
  }
}

const createDecipheriv8 = (key: Buffer, nonce: Buffer) => createDecipheriv('aes-128-ccm', key, nonce, { authTagLength: TAG });

/** S_0 | S_1 ... : counter blocks A_i = flags(L-1) | nonce | i, encrypted. */
function keystream(cx: Contexts, nonce: Buffer, length: number): Buffer {
  const blocks = 1 + Math.ceil(length / 16);
  const counters = Buffer.alloc(blocks * 16);
  for (let b = 0; b < blocks; b++) {
    const at = b * 16;
    counters[at] = 2; // L - 1
    nonce.copy(counters, at + 1, 0, NONCE);
    counters[at + 13] = (b >>> 16) & 0xff;
    counters[at + 14] = (b >>> 8) & 0xff;
    counters[at + 15] = b & 0xff;
  }
  return cx.ctr.update(counters);
}

/** The unencrypted CBC-MAC value X_n (16 bytes; the tag is its first 8). */
function cbcMac(cx: Contexts, nonce: Buffer, aad: Buffer, plaintext: Buffer): Buffer {
  const aadBlocks = aad.length > 0 ? Math.ceil((2 + aad.length) / 16) * 16 : 0;
  const input = Buffer.alloc(16 + aadBlocks + Math.ceil(plaintext.length / 16) * 16);
  // B0: flags = Adata | (M-2)/2 << 3 | (L-1), the nonce, then l(m) in 3 bytes.
  input[0] = (aad.length > 0 ? 0x40 : 0) | (((TAG - 2) / 2) << 3) | 2;
  nonce.copy(input, 1, 0, NONCE);
  input[13] = (plaintext.length >>> 16) & 0xff;
  input[14] = (plaintext.length >>> 8) & 0xff;
  input[15] = plaintext.length & 0xff;
  if (aad.length > 0) {
    input[16] = aad.length >>> 8;
    input[17] = aad.length & 0xff;
    aad.copy(input, 18);
  }
  plaintext.copy(input, 16 + aadBlocks);
  // Cancel the context's chaining value so that this message's MAC starts from zero.
  for (let i = 0; i < 16; i++) input[i] ^= cx.chain[i];
  const out = cx.mac.update(input);
  const last = out.subarray(out.length - 16);
  last.copy(cx.chain, 0);
  return Buffer.from(last);
}
