/**
 * Where a simulated device keeps the key that opens encrypted firmware. The SUIT verifier only
 * sees a PayloadDecryptionKey; a key source decides whether that is a key in memory (tiers 1
 * and 2, today's devices) or a hook into a PKCS#11 token that does the ECDH itself (tier 3,
 * key-source-pkcs11.ts), so the verifier is the same code for every tier.
 */
import { type KeyObject, createPublicKey } from 'node:crypto';
import type { PayloadDecryptionKey } from '../../../src/firmware/manifest/encryption.js';

export type KeyStorage = 'software' | 'pkcs11';

export interface DeviceKeySource {
  readonly storage: KeyStorage;
  /** The key id images must be encrypted for (the server checks it before delivery). */
  readonly kid?: Uint8Array;
  /** The public key images are encrypted for; absent for a pre-shared AES-KW key. */
  readonly publicKey?: KeyObject;
  /** What the verifier hands the manifest library to unwrap the content key. */
  readonly decryptionKey: PayloadDecryptionKey;
  /** True if the private key cannot be read out (what tier 3 requires). */
  privateKeyIsProtected(): boolean;
  /** Releases the token session, if any. The creator of the source closes it, not the device. */
  close(): void;
}

/** A key held in the device's memory: a pre-shared KEK (tier 1) or a P-256 private key (tier 2). */
export function softwareKeySource(key: PayloadDecryptionKey): DeviceKeySource {
  if (key.kind === 'ecdh-es' && 'agree' in key) throw new TypeError('a software key source holds the key itself; use a token key source for agreement hooks');
  return {
    storage: 'software',
    kid: key.kid,
    publicKey: key.kind === 'ecdh-es' ? createPublicKey(key.privateKey) : undefined,
    decryptionKey: key,
    privateKeyIsProtected: () => false,
    close: () => {},
  };
}
