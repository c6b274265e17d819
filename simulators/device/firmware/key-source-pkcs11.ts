/**
 * A tier-3 device key in a PKCS#11 token (softhsm2 in tests): the P-256 key-agreement key is
 * generated inside the token, sensitive and non-extractable; unwrapping a firmware content
 * key runs CKM_ECDH1_DERIVE in the token and only the per-image shared secret reaches the
 * host, where HKDF and AES-KW finish the job (the split a secure element and its MCU make).
 */
import type { HsmConfig } from '../../../src/firmware/hsm/config.js';
import { Pkcs11Session } from '../../../src/firmware/hsm/pkcs11-signer.js';
import type { DeviceKeySource } from './key-source.js';

export interface Pkcs11KeySourceOptions {
  /** Key id to advertise in encryption recipients; defaults to none (any recipient is tried). */
  readonly kid?: Uint8Array;
}

/** Opens the token, creating the device key on first use (a factory provisioning step). */
export function openPkcs11KeySource(config: HsmConfig, options: Pkcs11KeySourceOptions = {}): DeviceKeySource {
  const session = Pkcs11Session.open(config);
  try {
    const publicKey = session.ensureAgreementKeyPair();
    let closed = false;
    return {
      storage: 'pkcs11',
      kid: options.kid,
      publicKey,
      decryptionKey: { kind: 'ecdh-es', kid: options.kid, agree: (ephemeral) => session.agree(ephemeral) },
      privateKeyIsProtected: () => session.privateKeyIsProtected(),
      close: () => {
        if (closed) return;
        closed = true;
        session.close();
      },
    };
  } catch (err) {
    session.close();
    throw err;
  }
}
