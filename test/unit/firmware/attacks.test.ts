import { createPublicKey, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  COSE_ALG,
  ManifestError,
  buildEnvelope,
  decodeEnvelope,
  encryptImage,
  openImage,
  sha256Digest,
  softwareSigner,
  verifyEnvelope,
} from '../../../src/firmware/manifest/index.js';
import { type SecurityProfile, defaultProfile, verifyManifestForDevice, verifyTransport } from '../../../src/firmware/profiles/index.js';
import { CLASS, OTHER_ID, type TestPki, VENDOR, createTestPki, ec } from './helpers.js';

const kid = (s: string) => new TextEncoder().encode(s);
const image = new Uint8Array(randomBytes(2048));
const base = { sequenceNumber: 5, vendorId: VENDOR, classId: CLASS, imageDigest: sha256Digest(image), imageSize: image.length };

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  try {
    await p;
    expect.unreachable(`expected ${code}`);
  } catch (err) {
    expect(err).toBeInstanceOf(ManifestError);
    expect((err as ManifestError).code).toBe(code);
  }
}

describe('attacks on signed manifests (ES256, pinned keys)', () => {
  const author = ec();
  const operator = ec();
  const keys = [
    { kid: 'author', role: 'author', publicKey: author.publicKey },
    { kid: 'operator', role: 'operator', publicKey: operator.publicKey },
  ];
  const sign = (s = base, signers = [softwareSigner(author.privateKey, COSE_ALG.ES256, { kid: kid('author') })]) => buildEnvelope(s, signers);

  it('flipped bit in the payload is refused by the image check', async () => {
    const m = await verifyEnvelope(await sign(), { keys });
    const bad = image.slice();
    bad[17] ^= 0x04;
    await expectCode(openImage(m, bad), 'digest-mismatch');
  });

  it('flipped bit anywhere in the manifest is refused', async () => {
    const env = await sign();
    const manifest = decodeEnvelope(env).manifestBytes;
    const start = Buffer.from(env).indexOf(Buffer.from(manifest));
    expect(start).toBeGreaterThan(0);
    // Every 5th byte of the manifest body: each flip must be caught.
    let caught = 0;
    for (let i = start; i < start + manifest.length; i += 5) {
      const bad = env.slice();
      bad[i] ^= 0x01;
      await expect(verifyEnvelope(bad, { keys })).rejects.toBeInstanceOf(ManifestError);
      caught++;
    }
    expect(caught).toBe(Math.ceil(manifest.length / 5));
    const bad = env.slice();
    bad[env.length - 1] ^= 0x01;
    await expectCode(verifyEnvelope(bad, { keys }), 'digest-mismatch');
  });

  it('flipped bit in the signature is refused with bad-signature', async () => {
    const env = await sign();
    const sigStart = Buffer.from(env).indexOf(Buffer.from([0x58, 0x40])) + 2;
    const bad = env.slice();
    bad[sigStart + 5] ^= 0x10;
    await expectCode(verifyEnvelope(bad, { keys }), 'bad-signature');
  });

  it('a valid signature by an unknown key is refused', async () => {
    const stranger = ec();
    await expectCode(verifyEnvelope(await sign(base, [softwareSigner(stranger.privateKey, COSE_ALG.ES256, { kid: kid('mallory') })]), { keys }), 'unknown-key');
    await expectCode(verifyEnvelope(await sign(base, [softwareSigner(stranger.privateKey, COSE_ALG.ES256)]), { keys }), 'unknown-key');
  });

  it('a signature claiming a known kid but made with another key is bad-signature', async () => {
    await expectCode(verifyEnvelope(await sign(base, [softwareSigner(ec().privateKey, COSE_ALG.ES256, { kid: kid('author') })]), { keys }), 'bad-signature');
  });

  it('a required co-signer missing is refused; both present passes', async () => {
    const policy = { required: [{ role: 'author' }, { role: 'operator' }] };
    await expectCode(verifyEnvelope(await sign(), { keys, policy }), 'missing-signer');
    // The same signer twice does not count as two.
    const twice = [softwareSigner(author.privateKey, COSE_ALG.ES256, { kid: kid('author') }), softwareSigner(author.privateKey, COSE_ALG.ES256, { kid: kid('author') })];
    await expectCode(verifyEnvelope(await sign(base, twice), { keys, policy }), 'missing-signer');
    const both = [softwareSigner(author.privateKey, COSE_ALG.ES256, { kid: kid('author') }), softwareSigner(operator.privateKey, COSE_ALG.ES256, { kid: kid('operator') })];
    const m = await verifyEnvelope(await sign(base, both), { keys, policy });
    expect(m.signers.map((s) => s.role)).toEqual(['author', 'operator']);
  });

  it('an algorithm outside the allowed list is refused before any crypto', async () => {
    await expectCode(verifyEnvelope(await sign(), { keys, allowedAlgorithms: ['PS256'] }), 'algorithm-not-allowed');
  });
});

describe('profiles and the per-device verifier', () => {
  let pki: TestPki;
  let tier2: SecurityProfile;
  let tier3: SecurityProfile;
  let leaf: ReturnType<TestPki['leaf']>;
  let operatorLeaf: ReturnType<TestPki['leaf']>;
  let device: ReturnType<typeof ec>;
  const deviceFacts = () => ({ installedSequence: 4, vendorId: VENDOR, classId: CLASS, encryptionKeyId: kid('device-42') });

  beforeAll(() => {
    pki = createTestPki();
    tier2 = defaultProfile(2, [{ role: 'author', pem: pki.rootPem }]);
    tier3 = defaultProfile(3, [{ role: 'author', pem: pki.rootPem }]);
    leaf = pki.leaf('author-leaf');
    operatorLeaf = pki.leaf('operator-leaf', { rogue: true });
    device = ec();
  });
  afterAll(() => pki?.cleanup());

  async function tier2Envelope(over: Partial<typeof base> = {}, recipientKid = 'device-42', signerLeaf = leaf) {
    const enc = await encryptImage(image, { kind: 'ecdh-es', publicKey: device.publicKey, kid: kid(recipientKid) });
    const env = await buildEnvelope({ ...base, ...over, encryptionInfo: enc.encryptionInfo }, [
      softwareSigner(signerLeaf.privateKey, COSE_ALG.ES256, { x5chain: signerLeaf.chain }),
    ]);
    return { env, enc };
  }

  it('tier 2: a chained, encrypted, newer manifest for the right device is accepted and opens', async () => {
    const { env, enc } = await tier2Envelope();
    const v = await verifyManifestForDevice(env, tier2, deviceFacts());
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(v.summary.signers).toEqual([{ alg: 'ES256', kind: 'signature', role: 'author', id: 'CN=author-leaf', keyBits: 256, viaCertificate: true }]);
    expect(await openImage(v.summary, enc.ciphertext, { kind: 'ecdh-es', privateKey: device.privateKey })).toEqual(image);
  });

  it('lower or equal sequence numbers are refused', async () => {
    for (const sequenceNumber of [3, 4]) {
      const v = await verifyManifestForDevice((await tier2Envelope({ sequenceNumber })).env, tier2, deviceFacts());
      expect(v).toMatchObject({ ok: false, code: 'sequence-not-newer' });
    }
  });

  it('wrong vendor or class is refused', async () => {
    expect(await verifyManifestForDevice((await tier2Envelope({ vendorId: OTHER_ID })).env, tier2, deviceFacts())).toMatchObject({ ok: false, code: 'vendor-mismatch' });
    expect(await verifyManifestForDevice((await tier2Envelope({ classId: OTHER_ID })).env, tier2, deviceFacts())).toMatchObject({ ok: false, code: 'class-mismatch' });
  });

  it('an image encrypted for another device is refused by the server and cannot be opened by the device', async () => {
    const { env, enc } = await tier2Envelope({}, 'device-99');
    expect(await verifyManifestForDevice(env, tier2, deviceFacts())).toMatchObject({ ok: false, code: 'decrypt-failed' });
    const other = ec();
    const m = await verifyEnvelope(env, { trustAnchors: [{ role: 'author', certificate: pki.rootPem }] });
    await expectCode(openImage(m, enc.ciphertext, { kind: 'ecdh-es', privateKey: other.privateKey }), 'decrypt-failed');
  });

  it('a chain to an untrusted root is refused', async () => {
    const rogue = pki.leaf('rogue-leaf', { rogue: true });
    const v = await verifyManifestForDevice((await tier2Envelope({}, 'device-42', rogue)).env, tier2, deviceFacts());
    expect(v).toMatchObject({ ok: false, code: 'untrusted-chain' });
  });

  it('an expired certificate is refused (checked at a time after notAfter)', async () => {
    const { env } = await tier2Envelope();
    const twoYears = Date.now() + 2 * 365 * 24 * 3600 * 1000;
    expect(await verifyManifestForDevice(env, tier2, { ...deviceFacts(), now: twoYears })).toMatchObject({ ok: false, code: 'expired-certificate' });
  });

  it('a signature without a chain is refused by tier 2 even with a pinned key', async () => {
    const enc = await encryptImage(image, { kind: 'ecdh-es', publicKey: device.publicKey, kid: kid('device-42') });
    const env = await buildEnvelope({ ...base, encryptionInfo: enc.encryptionInfo }, [softwareSigner(leaf.privateKey, COSE_ALG.ES256, { kid: kid('a') })]);
    const v = await verifyManifestForDevice(env, tier2, { ...deviceFacts(), keys: [{ kid: 'a', role: 'author', publicKey: createPublicKey(leaf.privateKey) }] });
    expect(v).toMatchObject({ ok: false, code: 'unknown-key' });
  });

  it('a tier-2 device offered a tier-1 MAC-only manifest refuses it', async () => {
    const secret = new Uint8Array(randomBytes(32));
    const kek = new Uint8Array(randomBytes(16));
    const enc = await encryptImage(image, { kind: 'aes-kw', kek, kid: kid('device-42') });
    const env = await buildEnvelope({ ...base, encryptionInfo: enc.encryptionInfo }, [{ alg: COSE_ALG.HMAC256, kid: kid('psk'), secret }]);
    const keys = [{ kid: 'psk', role: 'author', secret }];
    expect(await verifyManifestForDevice(env, defaultProfile(1), { ...deviceFacts(), keys })).toMatchObject({ ok: true });
    expect(await verifyManifestForDevice(env, tier2, { ...deviceFacts(), keys })).toMatchObject({ ok: false, code: 'algorithm-not-allowed' });
  });

  it('unencrypted payloads are refused where the profile requires encryption', async () => {
    const env = await buildEnvelope(base, [softwareSigner(leaf.privateKey, COSE_ALG.ES256, { x5chain: leaf.chain })]);
    expect(await verifyManifestForDevice(env, tier2, deviceFacts())).toMatchObject({ ok: false, code: 'encryption-required' });
  });

  it('tier 3 requires author and operator, and RSA keys of at least 3072 bits', async () => {
    const t3 = { ...tier3, trustAnchors: [{ role: 'author', pem: pki.rootPem }] };
    const { env } = await tier2Envelope();
    expect(await verifyManifestForDevice(env, t3, deviceFacts())).toMatchObject({ ok: false, code: 'missing-signer' });
    const rsa = pki.leaf('rsa2048-leaf', { keyType: 'rsa2048' });
    const enc = await encryptImage(image, { kind: 'ecdh-es', publicKey: device.publicKey, kid: kid('device-42') });
    const rsaEnv = await buildEnvelope({ ...base, encryptionInfo: enc.encryptionInfo }, [softwareSigner(rsa.privateKey, COSE_ALG.PS256, { x5chain: rsa.chain })]);
    expect(await verifyManifestForDevice(rsaEnv, t3, deviceFacts())).toMatchObject({ ok: false, code: 'key-too-small' });
    expect(await verifyManifestForDevice(rsaEnv, tier2, deviceFacts())).toMatchObject({ ok: true });
  });

  it('tier 3 accepts author + operator chains, each vouched for by its own anchor', async () => {
    const t3 = { ...tier3, trustAnchors: [{ role: 'author', pem: pki.rootPem }, { role: 'operator', pem: pki.rogueRootPem }] };
    const enc = await encryptImage(image, { kind: 'ecdh-es', publicKey: device.publicKey, kid: kid('device-42') });
    const env = await buildEnvelope({ ...base, encryptionInfo: enc.encryptionInfo }, [
      softwareSigner(leaf.privateKey, COSE_ALG.ES256, { x5chain: leaf.chain }),
      softwareSigner(operatorLeaf.privateKey, COSE_ALG.ES256, { x5chain: operatorLeaf.chain }),
    ]);
    const v = await verifyManifestForDevice(env, t3, deviceFacts());
    expect(v.ok && v.summary.signers.map((s) => `${s.role}:${s.id}`)).toEqual(['author:CN=author-leaf', 'operator:CN=operator-leaf']);
    // Without the operator's anchor, the operator's chain is untrusted.
    const onlyAuthor = { ...t3, trustAnchors: [{ role: 'author', pem: pki.rootPem }] };
    expect(await verifyManifestForDevice(env, onlyAuthor, deviceFacts())).toMatchObject({ ok: false, code: 'untrusted-chain' });
  });

  it('verifyTransport: a tier-2 profile over plain CoAP is refused; DTLS with RPK or X.509 passes', () => {
    expect(verifyTransport(tier2, 'none')).toEqual({ ok: false, reason: "profile tier-2-x509 requires at least 'rpk' transport security, device uses 'none'" });
    expect(verifyTransport(tier2, 'psk')).toMatchObject({ ok: false });
    expect(verifyTransport(tier2, 'rpk')).toEqual({ ok: true });
    expect(verifyTransport(tier2, 'x509')).toEqual({ ok: true });
    expect(verifyTransport(defaultProfile(1), 'psk')).toEqual({ ok: true });
    expect(verifyTransport(defaultProfile(3), 'rpk')).toMatchObject({ ok: false });
  });

  it('profiles are JSON-serialisable data', () => {
    expect(JSON.parse(JSON.stringify(tier3))).toEqual(tier3);
  });
});
