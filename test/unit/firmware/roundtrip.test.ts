import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  COSE_ALG,
  type CoseAuthenticator,
  buildEnvelope,
  decryptImage,
  encryptImage,
  openImage,
  sha256Digest,
  softwareSigner,
  toHex,
  verifyEnvelope,
} from '../../../src/firmware/manifest/index.js';
import { CLASS, VENDOR, ec } from './helpers.js';

const kid = (s: string) => new TextEncoder().encode(s);
const image = new Uint8Array(randomBytes(4096));
const spec = { sequenceNumber: 7, vendorId: VENDOR, classId: CLASS, imageDigest: sha256Digest(image), imageSize: image.length };

describe('sign and verify round trips per algorithm', () => {
  const keys = {
    es256: ec(),
    ed25519: generateKeyPairSync('ed25519'),
    rsa2048: generateKeyPairSync('rsa', { modulusLength: 2048 }),
    rsa3072: generateKeyPairSync('rsa', { modulusLength: 3072 }),
  };
  const cases: Array<[string, number, { privateKey: import('node:crypto').KeyObject; publicKey: import('node:crypto').KeyObject }, number]> = [
    ['ES256', COSE_ALG.ES256, keys.es256, 256],
    ['ESP256', COSE_ALG.ESP256, keys.es256, 256],
    ['EdDSA', COSE_ALG.EdDSA, keys.ed25519, 256],
    ['PS256', COSE_ALG.PS256, keys.rsa3072, 3072],
    ['RS256', COSE_ALG.RS256, keys.rsa2048, 2048],
  ];
  for (const [name, alg, pair, bits] of cases) {
    it(`${name}`, async () => {
      const env = await buildEnvelope({ ...spec, uri: 'coap://fw/1', text: { name: 'sensor-fw', version: '1.2.3' } }, [softwareSigner(pair.privateKey, alg, { kid: kid('k1') })]);
      const m = await verifyEnvelope(env, { keys: [{ kid: 'k1', role: 'author', publicKey: pair.publicKey }] });
      expect(m.sequenceNumber).toBe(7);
      expect(m.uri).toBe('coap://fw/1');
      expect(m.text).toEqual({ name: 'sensor-fw', version: '1.2.3', description: undefined, vendorName: undefined, vendorDomain: undefined });
      expect(m.signers).toEqual([{ alg: name, kind: 'signature', role: 'author', id: 'k1', keyBits: bits, viaCertificate: false }]);
      expect(await openImage(m, image)).toEqual(image);
    });
  }

  it('HMAC 256/256 in COSE_Mac0 (tier 1)', async () => {
    const secret = new Uint8Array(randomBytes(32));
    const mac: CoseAuthenticator = { alg: COSE_ALG.HMAC256, kid: kid('psk-1'), secret };
    const env = await buildEnvelope(spec, [mac]);
    const m = await verifyEnvelope(env, { keys: [{ kid: 'psk-1', role: 'author', secret }] });
    expect(m.signers).toEqual([{ alg: 'HMAC256', kind: 'mac', role: 'author', id: 'psk-1', keyBits: 256, viaCertificate: false }]);
  });
});

describe('encrypted payloads', () => {
  let device: ReturnType<typeof ec>;
  beforeAll(() => {
    device = ec();
  });

  it('tier 1: AES-128-GCM with the content key wrapped by A128KW under a per-device key', async () => {
    const kek = new Uint8Array(randomBytes(16));
    const enc = await encryptImage(image, { kind: 'aes-kw', kek, kid: kid('dev-1') });
    expect(enc.ciphertext.length).toBe(image.length + 16);
    const secret = new Uint8Array(randomBytes(32));
    const env = await buildEnvelope({ ...spec, encryptionInfo: enc.encryptionInfo }, [{ alg: COSE_ALG.HMAC256, kid: kid('psk'), secret }]);
    const m = await verifyEnvelope(env, { keys: [{ kid: 'psk', role: 'author', secret }] });
    expect(toHex(m.encryptionInfo!)).toBe(toHex(enc.encryptionInfo));
    expect(await openImage(m, enc.ciphertext, { kind: 'aes-kw', kek })).toEqual(image);
  });

  it('tiers 2-3: ECDH-ES + HKDF-256 + A128KW to the device P-256 key, with zlib compression', async () => {
    const compressible = new Uint8Array(20000).map((_, i) => i % 7);
    const enc = await encryptImage(compressible, { kind: 'ecdh-es', publicKey: device.publicKey, kid: kid('dev-2') }, { compress: true });
    expect(enc.ciphertext.length).toBeLessThan(2000);
    const signer = ec();
    const env = await buildEnvelope(
      { ...spec, imageDigest: sha256Digest(compressible), imageSize: compressible.length, encryptionInfo: enc.encryptionInfo, compression: 'zlib' },
      [softwareSigner(signer.privateKey, COSE_ALG.ES256, { kid: kid('a') })],
    );
    const m = await verifyEnvelope(env, { keys: [{ kid: 'a', role: 'author', publicKey: signer.publicKey }] });
    expect(m.compression).toBe('zlib');
    expect(await openImage(m, enc.ciphertext, { kind: 'ecdh-es', privateKey: device.privateKey })).toEqual(compressible);
  });

  it('decryptImage refuses a flipped ciphertext bit', async () => {
    const kek = new Uint8Array(randomBytes(16));
    const enc = await encryptImage(image, { kind: 'aes-kw', kek });
    const bad = enc.ciphertext.slice();
    bad[100] ^= 0x80;
    await expect(decryptImage(bad, enc.encryptionInfo, { kind: 'aes-kw', kek })).rejects.toMatchObject({ code: 'decrypt-failed' });
  });
});

describe('size', () => {
  it('a single-image ES256 manifest without certificates is under 512 bytes', async () => {
    const signer = ec();
    const env = await buildEnvelope({ ...spec, uri: 'coaps://fw.example.com/images/sensor-v7.bin', text: { name: 'sensor', version: '7.0.0' } }, [
      softwareSigner(signer.privateKey, COSE_ALG.ES256, { kid: kid('author-1') }),
    ]);
    console.log(`single-image ES256 envelope (with URI and severable text): ${env.length} bytes`);
    expect(env.length).toBeLessThan(512);
    const bare = await buildEnvelope(spec, [softwareSigner(signer.privateKey, COSE_ALG.ES256)]);
    console.log(`single-image ES256 envelope (bare): ${bare.length} bytes`);
    expect(bare.length).toBeLessThan(300);
  });
});
