import { describe, expect, it } from 'vitest';
import { cipherSuiteById } from '../../../src/dtls/cipher-suites.js';
import { masterSecret, prf, pskPremaster } from '../../../src/dtls/prf.js';
import { aeadOpen, aeadSeal, createRecordProtection } from '../../../src/dtls/record-protection.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('TLS 1.2 PRF (P_SHA256)', () => {
  it('matches the widely used TLS 1.2 SHA-256 PRF test vector (100 bytes)', () => {
    const out = prf(hex('9bbe436ba940f017b17652849a71db35'), 'test label', hex('a0ba9f936cda311827a6f796ffd5198c'), 100);
    expect(out.toString('hex')).toBe(
      'e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66',
    );
  });

  it('builds the RFC 4279 PSK premaster secret', () => {
    expect(pskPremaster(hex('aabb')).toString('hex')).toBe('00020000' + '0002aabb');
  });

  it('uses the session hash, not the randoms, for the extended master secret', () => {
    const base = { premaster: hex('01'.repeat(20)), clientRandom: hex('02'.repeat(32)), serverRandom: hex('03'.repeat(32)) };
    const classic = masterSecret(base);
    const ems = masterSecret({ ...base, sessionHash: hex('04'.repeat(32)) });
    expect(classic).toHaveLength(48);
    expect(ems).toHaveLength(48);
    expect(ems.equals(classic)).toBe(false);
    expect(ems.equals(prf(base.premaster, 'extended master secret', hex('04'.repeat(32)), 48))).toBe(true);
  });
});

describe('AES-CCM_8 as used by TLS_*_AES_128_CCM_8', () => {
  // NIST SP 800-38C Appendix C, Example 3: 12-byte nonce, 8-byte tag (the CCM_8 shape).
  const key = hex('404142434445464748494a4b4c4d4e4f');
  const nonce = hex('101112131415161718191a1b');
  const aad = hex('000102030405060708090a0b0c0d0e0f10111213');
  const plaintext = hex('202122232425262728292a2b2c2d2e2f3031323334353637');
  const expected = 'e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5' + '484392fbc1b09951';

  it('seals the NIST SP 800-38C example 3 to the published ciphertext and tag', () => {
    expect(aeadSeal('aes-128-ccm8', key, nonce, aad, plaintext).toString('hex')).toBe(expected);
  });

  it('opens it again, and refuses a flipped tag bit', () => {
    const sealed = hex(expected);
    expect(aeadOpen('aes-128-ccm8', key, nonce, aad, sealed.subarray(0, 24), sealed.subarray(24))?.toString('hex')).toBe(plaintext.toString('hex'));
    const badTag = Buffer.from(sealed.subarray(24));
    badTag[0] ^= 1;
    expect(aeadOpen('aes-128-ccm8', key, nonce, aad, sealed.subarray(0, 24), badTag)).toBeUndefined();
  });

  it('builds the record nonce from the 4-byte implicit IV and epoch|sequence, AAD from the header', () => {
    const suite = cipherSuiteById(0xc0a8)!;
    const keys = { macKey: Buffer.alloc(0), encKey: key, fixedIv: hex('10111213') };
    const protection = createRecordProtection(suite, keys);
    const header = { type: 23, version: 0xfefd, epoch: 1, sequence: 5 };
    const fragment = protection.seal(header, 23, Buffer.from('hi'));
    expect(fragment.subarray(0, 8).toString('hex')).toBe('0001000000000005');
    const aad = hex('0001000000000005' + '17' + 'fefd' + '0002');
    const manual = aeadSeal('aes-128-ccm8', key, hex('10111213' + '0001000000000005'), aad, Buffer.from('hi'));
    expect(fragment.subarray(8).equals(manual)).toBe(true);
    expect(protection.open(header, fragment)).toEqual({ type: 23, content: Buffer.from('hi') });
    expect(protection.open({ ...header, sequence: 6 }, fragment)).toBeUndefined();
  });
});

describe('record protection round trips', () => {
  for (const id of [0xc0a8, 0x00ae, 0xc02b, 0xc0ae]) {
    const suite = cipherSuiteById(id)!;
    it(`${suite.name}: seals, opens, and drops any single-byte corruption`, () => {
      const keys = { macKey: Buffer.alloc(suite.macKeyLength, 7), encKey: Buffer.alloc(16, 9), fixedIv: Buffer.alloc(suite.fixedIvLength, 3) };
      const p = createRecordProtection(suite, keys);
      for (const cid of [undefined, hex('a1a2a3a4a5a6')]) {
        const header = { type: cid ? 25 : 23, version: 0xfefd, epoch: 1, sequence: 42, ...(cid ? { cid } : {}) };
        const content = Buffer.from('some application data of moderate length');
        const fragment = p.seal(header, 23, content);
        expect(p.open(header, fragment)).toEqual({ type: 23, content });
        for (const at of [0, 8, fragment.length - 1]) {
          const bad = Buffer.from(fragment);
          bad[at] ^= 0x40;
          expect(p.open(header, bad)).toBeUndefined();
        }
        if (cid) expect(p.open({ ...header, cid: hex('a1a2a3a4a5a7') }, fragment)).toBeUndefined();
      }
    });
  }
});
