import type { KeyObject } from 'node:crypto';
import * as graphene from 'graphene-pk11';
import { ManifestError } from '../manifest/errors.js';

/** A P-256 shared secret (the x-coordinate of the agreed point) is 32 bytes. */
export const P256_SHARED_SECRET_BYTES = 32;

/**
 * The peer's public key as CKM_ECDH1_DERIVE wants it: the raw uncompressed point (0x04||X||Y).
 * PKCS#11 v2.40 requires tokens to accept the raw form (some also take a DER OCTET STRING
 * around it); softhsm2 2.6 takes the raw one, so that is what we send.
 */
export function peerPoint(publicKey: KeyObject): Buffer {
  const jwk = publicKey.export({ format: 'jwk' });
  if (publicKey.asymmetricKeyType !== 'ec' || jwk.crv !== 'P-256' || !jwk.x || !jwk.y) {
    throw new ManifestError('hsm-error', 'ECDH needs a P-256 peer public key');
  }
  return Buffer.concat([Buffer.from([0x04]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
}

/** CKM_ECDH1_DERIVE with CKD_NULL: the token outputs the raw shared x-coordinate; HKDF runs outside. */
export function ecdhMechanism(publicKey: KeyObject): graphene.IAlgorithm {
  return { name: 'ECDH1_DERIVE', params: new graphene.EcdhParams(graphene.EcKdf.NULL, null, peerPoint(publicKey)) };
}

/**
 * The template of the derived secret. It is a session object (never stored in the token) and
 * EXTRACTABLE and not SENSITIVE on purpose: the KDF (HKDF-SHA256 with the COSE KDF context)
 * is not a PKCS#11 mechanism softhsm2 offers, so the secret must reach the host's crypto once,
 * exactly as a secure element hands its ECDH output to the MCU. The device's private key
 * itself stays sensitive and non-extractable.
 */
export const SHARED_SECRET_TEMPLATE: graphene.ITemplate = {
  class: graphene.ObjectClass.SECRET_KEY,
  keyType: graphene.KeyType.GENERIC_SECRET,
  valueLen: P256_SHARED_SECRET_BYTES,
  token: false,
  sensitive: false,
  extractable: true,
  derive: false,
  encrypt: false,
  decrypt: false,
  sign: false,
  verify: false,
  wrap: false,
  unwrap: false,
};
