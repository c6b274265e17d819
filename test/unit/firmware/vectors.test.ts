import { describe, expect, it } from 'vitest';
import { ManifestError, aesKeyUnwrap, aesKeyWrap, fromHex, hkdfSha256, toHex } from '../../../src/firmware/manifest/index.js';

describe('AES Key Wrap (RFC 3394 §4 known answers)', () => {
  it('4.1: 128-bit key data under a 128-bit KEK', () => {
    const kek = fromHex('000102030405060708090A0B0C0D0E0F');
    const data = fromHex('00112233445566778899AABBCCDDEEFF');
    const wrapped = aesKeyWrap(kek, data);
    expect(toHex(wrapped)).toBe('1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5');
    expect(toHex(aesKeyUnwrap(kek, wrapped))).toBe('00112233445566778899aabbccddeeff');
  });

  it('4.6: 256-bit key data under a 256-bit KEK', () => {
    const kek = fromHex('000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F');
    const data = fromHex('00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F');
    expect(toHex(aesKeyWrap(kek, data))).toBe('28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43bfb988b9b7a02dd21');
  });

  it('unwrap with the wrong KEK fails the integrity check as decrypt-failed', () => {
    const wrapped = fromHex('1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5');
    try {
      aesKeyUnwrap(fromHex('000102030405060708090A0B0C0D0E0E'), wrapped);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ManifestError);
      expect((err as ManifestError).code).toBe('decrypt-failed');
    }
  });
});

describe('HKDF-SHA-256 (RFC 5869 Appendix A known answers)', () => {
  it('test case 1', () => {
    const okm = hkdfSha256(fromHex('0b'.repeat(22)), fromHex('000102030405060708090a0b0c'), fromHex('f0f1f2f3f4f5f6f7f8f9'), 42);
    expect(toHex(okm)).toBe('3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
  });

  it('test case 3 (empty salt and info)', () => {
    const okm = hkdfSha256(fromHex('0b'.repeat(22)), new Uint8Array(0), new Uint8Array(0), 42);
    expect(toHex(okm)).toBe('8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8');
  });
});
