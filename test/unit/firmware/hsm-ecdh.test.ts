/**
 * Key agreement inside a PKCS#11 token (softhsm2): the tier-3 device key is generated in the
 * token, never leaves it, and CKM_ECDH1_DERIVE there yields the same shared secret as the
 * peer computes in software, so images encrypted for the token's public key open through the
 * manifest library's agreement hook.
 */
import { diffieHellman, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11Session } from '../../../src/firmware/hsm/index.js';
import { ManifestError, decryptImage, encryptImage, inflate } from '../../../src/firmware/manifest/index.js';
import { openPkcs11KeySource } from '../../../simulators/device/firmware/key-source-pkcs11.js';
import { softwareKeySource } from '../../../simulators/device/firmware/key-source.js';
import { SOFTHSM_LIB, createSoftHsmToken } from './helpers.js';

const available = existsSync(SOFTHSM_LIB);
if (!available && process.env.CI) throw new Error(`softhsm2 is required in CI but ${SOFTHSM_LIB} is missing`);
if (!available) console.warn(`HSM ECDH tests skipped: softhsm2 not installed (${SOFTHSM_LIB} missing)`);

const TOKEN = 'ecdh-test';
const kid = (s: string) => new TextEncoder().encode(s);

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ManifestError) return err.code;
    throw err;
  }
  throw new Error('expected a ManifestError');
}

describe.runIf(available)('ECDH inside a softhsm2 token', () => {
  let token: ReturnType<typeof createSoftHsmToken>;
  let session: Pkcs11Session;
  const config = () => ({ modulePath: SOFTHSM_LIB, tokenLabel: TOKEN, pin: token!.pin, keyLabel: 'device-kek' });

  beforeAll(() => {
    token = createSoftHsmToken(TOKEN);
    session = Pkcs11Session.open(config());
  });
  afterAll(() => {
    session?.close();
    token?.cleanup();
  });

  it('generates a protected P-256 agreement key once and agrees on the same secret as software ECDH', () => {
    const pub = session.ensureAgreementKeyPair();
    expect(pub.asymmetricKeyType).toBe('ec');
    expect(pub.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(session.privateKeyIsProtected()).toBe(true);
    expect(session.ensureAgreementKeyPair().export({ format: 'jwk' })).toEqual(pub.export({ format: 'jwk' }));

    const peer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const inToken = session.agree(peer.publicKey);
    const inSoftware = new Uint8Array(diffieHellman({ privateKey: peer.privateKey, publicKey: pub }));
    expect(inToken.length).toBe(32);
    expect(Buffer.from(inToken).toString('hex')).toBe(Buffer.from(inSoftware).toString('hex'));
    // A different peer gives a different secret: the derivation really uses the peer's point.
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    expect(Buffer.from(session.agree(other.publicKey)).equals(Buffer.from(inToken))).toBe(false);
  });

  it('refuses peers that are not P-256 keys and keeps the agreement key from signing', () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    expect(() => session.agree(p384.publicKey)).toThrow('hsm-error: ECDH needs a P-256 peer public key');
    const ed = generateKeyPairSync('ed25519');
    expect(() => session.agree(ed.publicKey)).toThrow('hsm-error: ECDH needs a P-256 peer public key');
    expect(() => session.signDigest(new Uint8Array(32))).toThrow(/signing failed/);
  });

  it('keeps a signing key from deriving, and one label from serving both jobs', () => {
    const signing = Pkcs11Session.open({ ...config(), keyLabel: 'not-for-ecdh' });
    try {
      signing.ensureKeyPair();
      const peer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      expect(() => signing.agree(peer.publicKey)).toThrow(/ECDH derivation failed/);
      expect(() => signing.ensureAgreementKeyPair()).toThrow("hsm-error: key 'not-for-ecdh' exists but is not a key-agreement key");
      expect(() => session.ensureKeyPair()).toThrow("hsm-error: key 'device-kek' exists but is not a signing key");
    } finally {
      signing.close();
    }
  });

  it('opens an image encrypted for the token key through the agreement hook, plain and compressed', async () => {
    const source = openPkcs11KeySource(config(), { kid: kid('dev-1') });
    try {
      expect(source.storage).toBe('pkcs11');
      expect(source.privateKeyIsProtected()).toBe(true);
      // The key made by the first test persisted in the token: same public key, no new pair.
      expect(source.publicKey!.export({ format: 'jwk' })).toEqual(session.publicKey().export({ format: 'jwk' }));
      const image = new Uint8Array(Buffer.concat([randomBytes(2000), Buffer.alloc(4000, 7)]));
      const plain = await encryptImage(image, { kind: 'ecdh-es', publicKey: source.publicKey!, kid: kid('dev-1') });
      expect(Buffer.from(await decryptImage(plain.ciphertext, plain.encryptionInfo, source.decryptionKey)).equals(Buffer.from(image))).toBe(true);
      const packed = await encryptImage(image, { kind: 'ecdh-es', publicKey: source.publicKey!, kid: kid('dev-1') }, { compress: true });
      expect(packed.ciphertext.length).toBeLessThan(image.length);
      const opened = inflate(await decryptImage(packed.ciphertext, packed.encryptionInfo, source.decryptionKey), image.length);
      expect(Buffer.from(opened).equals(Buffer.from(image))).toBe(true);
    } finally {
      source.close();
      source.close(); // closing twice is harmless
    }
  });

  it('refuses an image encrypted for another device key with decrypt-failed', async () => {
    const source = openPkcs11KeySource(config());
    try {
      const stranger = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const forOther = await encryptImage(new Uint8Array(100), { kind: 'ecdh-es', publicKey: stranger.publicKey });
      expect(await codeOf(decryptImage(forOther.ciphertext, forOther.encryptionInfo, source.decryptionKey))).toBe('decrypt-failed');
      // An image for a different kid is refused before the token is even asked.
      const forOtherKid = await encryptImage(new Uint8Array(100), { kind: 'ecdh-es', publicKey: source.publicKey!, kid: kid('dev-2') });
      expect(await codeOf(decryptImage(forOtherKid.ciphertext, forOtherKid.encryptionInfo, { ...source.decryptionKey, kid: kid('dev-1') }))).toBe('decrypt-failed');
    } finally {
      source.close();
    }
  });

  it('shares one login between sessions on a token: a wrong PIN is refused, and closing one session leaves the other working', () => {
    expect(() => Pkcs11Session.open({ ...config(), pin: '000000' })).toThrow(/hsm-error.*CKR_PIN_INCORRECT/);
    const second = Pkcs11Session.open(config());
    const peer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const before = Buffer.from(session.agree(peer.publicKey)).toString('hex');
    expect(Buffer.from(second.agree(peer.publicKey)).toString('hex')).toBe(before);
    second.close();
    expect(Buffer.from(session.agree(peer.publicKey)).toString('hex')).toBe(before);
  });

  it('turns a token failure during agreement into an hsm-error, not a wrong-key verdict', async () => {
    const source = openPkcs11KeySource(config());
    const pub = source.publicKey!;
    source.close();
    const sealed = await encryptImage(new Uint8Array(50), { kind: 'ecdh-es', publicKey: pub });
    expect(await codeOf(decryptImage(sealed.ciphertext, sealed.encryptionInfo, source.decryptionKey))).toBe('hsm-error');
  });
});

describe('software key source', () => {
  it('exposes the public half of an ECDH key and opens images with it', async () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const source = softwareKeySource({ kind: 'ecdh-es', privateKey: pair.privateKey, kid: kid('soft') });
    expect([source.storage, source.privateKeyIsProtected(), Buffer.from(source.kid!).toString()]).toEqual(['software', false, 'soft']);
    expect(source.publicKey!.export({ format: 'jwk' })).toEqual(pair.publicKey.export({ format: 'jwk' }));
    const sealed = await encryptImage(new Uint8Array([1, 2, 3]), { kind: 'ecdh-es', publicKey: source.publicKey!, kid: kid('soft') });
    expect([...(await decryptImage(sealed.ciphertext, sealed.encryptionInfo, source.decryptionKey))]).toEqual([1, 2, 3]);
  });

  it('holds a pre-shared AES-KW key with no public key', async () => {
    const kek = new Uint8Array(randomBytes(16));
    const source = softwareKeySource({ kind: 'aes-kw', kek });
    expect(source.publicKey).toBeUndefined();
    const sealed = await encryptImage(new Uint8Array([9, 8]), { kind: 'aes-kw', kek });
    expect([...(await decryptImage(sealed.ciphertext, sealed.encryptionInfo, source.decryptionKey))]).toEqual([9, 8]);
  });
});
