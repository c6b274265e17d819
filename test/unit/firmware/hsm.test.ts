import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11Session } from '../../../src/firmware/hsm/index.js';
import { buildEnvelope, keyBits, sha256Digest, verifyEnvelope } from '../../../src/firmware/manifest/index.js';
import { CLASS, SOFTHSM_LIB, VENDOR, createSoftHsmToken } from './helpers.js';

const available = existsSync(SOFTHSM_LIB);
if (!available && process.env.CI) throw new Error(`softhsm2 is required in CI but ${SOFTHSM_LIB} is missing`);
if (!available) console.warn(`HSM tests skipped: softhsm2 not installed (${SOFTHSM_LIB} missing)`);

describe.runIf(available)('PKCS#11 signing through softhsm2', () => {
  let token: ReturnType<typeof createSoftHsmToken>;
  let session: Pkcs11Session;

  beforeAll(() => {
    token = createSoftHsmToken('fw-test');
    session = Pkcs11Session.open({ modulePath: SOFTHSM_LIB, tokenLabel: 'fw-test', pin: token!.pin, keyLabel: 'signing' });
  });
  afterAll(() => {
    session?.close();
    token?.cleanup();
  });

  it('generates a non-extractable P-256 key and signs a manifest that verifies with the exported public key', async () => {
    const pub = session.ensureKeyPair();
    expect(pub.asymmetricKeyType).toBe('ec');
    expect(keyBits(pub)).toBe(256);
    expect(session.privateKeyIsProtected()).toBe(true);
    // A second call finds the existing key instead of making another.
    expect(session.ensureKeyPair().export({ format: 'jwk' })).toEqual(pub.export({ format: 'jwk' }));

    const env = await buildEnvelope(
      { sequenceNumber: 9, vendorId: VENDOR, classId: CLASS, imageDigest: sha256Digest(new Uint8Array([1, 2, 3])), imageSize: 3 },
      [session.signer({ kid: new TextEncoder().encode('hsm-author') })],
    );
    const m = await verifyEnvelope(env, { keys: [{ kid: 'hsm-author', role: 'author', publicKey: pub }] });
    expect(m.sequenceNumber).toBe(9);
    expect(m.signers).toEqual([{ alg: 'ES256', kind: 'signature', role: 'author', id: 'hsm-author', keyBits: 256, viaCertificate: false }]);
  });

  it('refuses a wrong PIN with an hsm-error', () => {
    expect(() => Pkcs11Session.open({ modulePath: SOFTHSM_LIB, tokenLabel: 'fw-test', pin: '000000', keyLabel: 'signing' })).toThrow(/hsm-error/);
  });
});
