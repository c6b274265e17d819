import type { AuthAlgName, KeyWrapAlgName } from '../manifest/algorithms.js';

export type TransportSecurity = 'none' | 'psk' | 'rpk' | 'x509';

/** Ordered weakest to strongest; a profile's minimum admits everything at or above it. */
export const TRANSPORT_STRENGTH: readonly TransportSecurity[] = ['none', 'psk', 'rpk', 'x509'];

/** Per-device security requirements (MISSION §3). Plain data, so it can live in JSON config. */
export interface SecurityProfile {
  readonly name: string;
  readonly tier: 1 | 2 | 3;
  readonly allowedAlgorithms: readonly AuthAlgName[];
  readonly minKeySizes: { readonly rsa: number; readonly ec: number; readonly hmac: number };
  /** Each entry must be satisfied by a distinct authentication block. */
  readonly requiredSigners: ReadonlyArray<{ readonly role?: string; readonly kid?: string }>;
  /** Signatures must come with an X.509 chain to one of `trustAnchors` (tiers 2 and 3). */
  readonly requireCertificateChain: boolean;
  readonly encryptionRequired: boolean;
  readonly allowedKeyWrap: readonly KeyWrapAlgName[];
  readonly minTransportSecurity: TransportSecurity;
  /** PEM CA certificates and the signer role each one vouches for. */
  readonly trustAnchors: ReadonlyArray<{ readonly role: string; readonly pem: string }>;
  /** Where the server-side signing key lives: a file path, or `pkcs11:` URI-like reference (tier 3). */
  readonly deviceKeyRef?: string;
  /** Tier 3: server signing keys must be held in an HSM. */
  readonly hardwareBackedKeys: boolean;
}

const ASYMMETRIC: readonly AuthAlgName[] = ['ES256', 'ESP256', 'EdDSA', 'PS256', 'RS256'];

/**
 * Tier defaults from the seed paper's table: tier 1 = encrypted image with a pre-shared key
 * and a MAC; tier 2 adds signatures verified through X.509 chains; tier 3 adds hardware-held
 * keys, larger RSA keys and a second (operator) signature.
 */
export function defaultProfile(tier: 1 | 2 | 3, trustAnchors: SecurityProfile['trustAnchors'] = []): SecurityProfile {
  switch (tier) {
    case 1:
      return {
        name: 'tier-1-psk',
        tier: 1,
        allowedAlgorithms: ['HMAC256'],
        minKeySizes: { rsa: 2048, ec: 256, hmac: 256 },
        requiredSigners: [{ role: 'author' }],
        requireCertificateChain: false,
        encryptionRequired: true,
        allowedKeyWrap: ['A128KW'],
        minTransportSecurity: 'psk',
        trustAnchors,
        hardwareBackedKeys: false,
      };
    case 2:
      return {
        name: 'tier-2-x509',
        tier: 2,
        allowedAlgorithms: ASYMMETRIC,
        minKeySizes: { rsa: 2048, ec: 256, hmac: 256 },
        requiredSigners: [{ role: 'author' }],
        requireCertificateChain: true,
        encryptionRequired: true,
        allowedKeyWrap: ['ECDH-ES+A128KW', 'A128KW'],
        minTransportSecurity: 'rpk',
        trustAnchors,
        hardwareBackedKeys: false,
      };
    case 3:
      return {
        name: 'tier-3-hsm',
        tier: 3,
        allowedAlgorithms: ['ES256', 'ESP256', 'EdDSA', 'PS256'],
        minKeySizes: { rsa: 3072, ec: 256, hmac: 256 },
        requiredSigners: [{ role: 'author' }, { role: 'operator' }],
        requireCertificateChain: true,
        encryptionRequired: true,
        allowedKeyWrap: ['ECDH-ES+A128KW'],
        minTransportSecurity: 'x509',
        trustAnchors,
        hardwareBackedKeys: true,
      };
  }
}
