/**
 * The hand-made fast paths against references: CCM_8 on long-lived contexts against
 * node:crypto's one-shot aes-128-ccm, the two-word replay window against a plain set model,
 * and sealRecord against seal + encodeRecord.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Ccm8 } from '../../../src/dtls/ccm8.js';
import { cipherSuiteById } from '../../../src/dtls/cipher-suites.js';
import { encodeRecord, parseRecords } from '../../../src/dtls/record.js';
import { createRecordProtection } from '../../../src/dtls/record-protection.js';
import { REPLAY_WINDOW_SIZE, ReplayWindow } from '../../../src/dtls/replay-window.js';

function nodeCcm8(key: Buffer, nonce: Buffer, aad: Buffer, plaintext: Buffer): Buffer {
  const c = createCipheriv('aes-128-ccm', key, nonce, { authTagLength: 8 });
  c.setAAD(aad, { plaintextLength: plaintext.length });
  return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
}

const message = fc.record({
  nonce: fc.uint8Array({ minLength: 12, maxLength: 12 }).map((b) => Buffer.from(b)),
  aad: fc.uint8Array({ minLength: 0, maxLength: 40 }).map((b) => Buffer.from(b)),
  plaintext: fc.uint8Array({ minLength: 0, maxLength: 70 }).map((b) => Buffer.from(b)),
});

describe('CCM_8 on long-lived contexts', () => {
  it('seals exactly as node:crypto and opens its own output, message after message on one key', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.array(message, { minLength: 1, maxLength: 12 }), (keyBytes, messages) => {
        const key = Buffer.from(keyBytes);
        const sealer = new Ccm8(key);
        const opener = new Ccm8(key);
        for (const m of messages) {
          const sealed = sealer.seal(m.nonce, m.aad, m.plaintext);
          expect(sealed.toString('hex')).toBe(nodeCcm8(key, m.nonce, m.aad, m.plaintext).toString('hex'));
          const opened = opener.open(m.nonce, m.aad, sealed.subarray(0, sealed.length - 8), sealed.subarray(sealed.length - 8));
          expect(opened?.toString('hex')).toBe(m.plaintext.toString('hex'));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('rejects any flipped bit in ciphertext, tag, nonce or additional data, and a wrong key', () => {
    const key = randomBytes(16);
    const opener = new Ccm8(key);
    const nonce = randomBytes(12);
    const aad = randomBytes(13);
    const plaintext = Buffer.from('a CoAP request of some length');
    const sealed = nodeCcm8(key, nonce, aad, plaintext);
    const open = (n: Buffer, a: Buffer, s: Buffer, o = opener): Buffer | undefined => o.open(n, a, s.subarray(0, s.length - 8), s.subarray(s.length - 8));
    // Warm the opener past its one-shot phase so both code paths are checked.
    for (let i = 0; i < 5; i++) expect(open(nonce, aad, sealed)?.equals(plaintext)).toBe(true);
    for (let bit = 0; bit < sealed.length * 8; bit += 7) {
      const bad = Buffer.from(sealed);
      bad[bit >> 3] ^= 1 << (bit & 7);
      expect(open(nonce, aad, bad)).toBeUndefined();
    }
    const badNonce = Buffer.from(nonce);
    badNonce[11] ^= 1;
    expect(open(badNonce, aad, sealed)).toBeUndefined();
    const badAad = Buffer.from(aad);
    badAad[0] ^= 0x80;
    expect(open(nonce, badAad, sealed)).toBeUndefined();
    expect(open(nonce, aad, sealed, new Ccm8(randomBytes(16)))).toBeUndefined();
    // A failed check leaves the contexts usable.
    expect(open(nonce, aad, sealed)?.equals(plaintext)).toBe(true);
  });
});

describe('replay window', () => {
  it('agrees with a set-of-seen model on arbitrary sequences, including 32-bit and 48-bit jumps', () => {
    const seq = fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 2 ** 31, max: 2 ** 31 + 100 }), fc.integer({ min: 2 ** 48 - 100, max: 2 ** 48 - 1 }));
    fc.assert(
      fc.property(fc.array(seq, { maxLength: 150 }), (sequences) => {
        const w = new ReplayWindow();
        const seen = new Set<number>();
        let highest = -1;
        for (const s of sequences) {
          const fresh = s > highest || (highest - s < REPLAY_WINDOW_SIZE && !seen.has(s));
          expect(w.check(s)).toBe(fresh);
          expect(w.isNewest(s)).toBe(s > highest);
          if (fresh) {
            w.mark(s);
            seen.add(s);
            highest = Math.max(highest, s);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('sealRecord', () => {
  it('gives the same bytes as seal + encodeRecord, with and without a CID, for every suite', () => {
    for (const id of [0xc0a8, 0xc02b, 0x00ae]) {
      const suite = cipherSuiteById(id)!;
      const keys = { macKey: randomBytes(suite.macKeyLength), encKey: randomBytes(16), fixedIv: randomBytes(suite.fixedIvLength) };
      const a = createRecordProtection(suite, keys);
      const reader = createRecordProtection(suite, keys);
      for (const cid of [undefined, Buffer.from('a1b2c3d4e5f6', 'hex')]) {
        for (let n = 0; n < 6; n++) {
          const content = Buffer.from(`payload ${n}`);
          const sequence = 2 ** 40 + n;
          const record = a.sealRecord(0xfefd, 1, sequence, cid, 23, content);
          const parsed = parseRecords(record, cid ? 6 : 0).records;
          expect(parsed).toHaveLength(1);
          expect(parsed[0]).toMatchObject({ type: cid ? 25 : 23, version: 0xfefd, epoch: 1, sequence });
          const opened = reader.open(parsed[0], parsed[0].fragment);
          expect(opened).toEqual({ type: 23, content });
          if (suite.cipher !== 'aes-128-cbc-sha256') {
            // AEAD output is deterministic for a given nonce: compare with the two-step form.
            const header = { type: cid ? 25 : 23, version: 0xfefd, epoch: 1, sequence, ...(cid ? { cid } : {}) };
            expect(encodeRecord({ ...header, fragment: a.seal(header, 23, content) }).equals(record)).toBe(true);
          }
        }
      }
    }
  });
});
