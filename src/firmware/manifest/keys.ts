import { KeyObject, createPublicKey, webcrypto } from 'node:crypto';
import { COSE_ALG } from './algorithms.js';
import { ManifestError } from './errors.js';

const subtle = webcrypto.subtle;
type CryptoKey = webcrypto.CryptoKey;

/** Which kind of key an algorithm needs; used to reject a key of the wrong type early. */
export type KeyFamily = 'ec-p256' | 'ed25519' | 'rsa';

export function keyFamilyForAlg(alg: number): KeyFamily {
  switch (alg) {
    case COSE_ALG.ES256:
    case COSE_ALG.ESP256:
      return 'ec-p256';
    case COSE_ALG.EdDSA:
      return 'ed25519';
    case COSE_ALG.PS256:
    case COSE_ALG.RS256:
      return 'rsa';
    default:
      throw new ManifestError('algorithm-not-allowed', `COSE algorithm ${alg} is not a supported signature algorithm`);
  }
}

export function keyFamilyOf(key: KeyObject): KeyFamily | undefined {
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ec-p256';
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') return 'rsa';
  return undefined;
}

/** Strength in bits as profiles count it: RSA modulus length, curve order size otherwise. */
export function keyBits(key: KeyObject): number {
  if (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') return key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType === 'ec') return key.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? 256 : 0;
  if (key.asymmetricKeyType === 'ed25519') return 256;
  return 0;
}

function importParams(alg: number): webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams | webcrypto.Algorithm {
  switch (keyFamilyForAlg(alg)) {
    case 'ec-p256':
      return { name: 'ECDSA', namedCurve: 'P-256' } as webcrypto.EcKeyImportParams;
    case 'ed25519':
      return { name: 'Ed25519' };
    case 'rsa':
      return { name: alg === COSE_ALG.PS256 ? 'RSA-PSS' : 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as webcrypto.RsaHashedImportParams;
  }
}

export function signParams(alg: number): webcrypto.AlgorithmIdentifier | webcrypto.EcdsaParams | webcrypto.RsaPssParams {
  switch (alg) {
    case COSE_ALG.ES256:
    case COSE_ALG.ESP256:
      return { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams;
    case COSE_ALG.EdDSA:
      return { name: 'Ed25519' };
    case COSE_ALG.PS256:
      return { name: 'RSA-PSS', saltLength: 32 } as webcrypto.RsaPssParams;
    case COSE_ALG.RS256:
      return { name: 'RSASSA-PKCS1-v1_5' };
    default:
      throw new ManifestError('algorithm-not-allowed', `COSE algorithm ${alg} is not a supported signature algorithm`);
  }
}

// WebCrypto import is the slow part of a verify; cache per key object and algorithm.
const publicCache = new WeakMap<KeyObject, Map<number, Promise<CryptoKey>>>();
const privateCache = new WeakMap<KeyObject, Map<number, Promise<CryptoKey>>>();

function cached(cache: WeakMap<KeyObject, Map<number, Promise<CryptoKey>>>, key: KeyObject, alg: number, make: () => Promise<CryptoKey>): Promise<CryptoKey> {
  let perAlg = cache.get(key);
  if (!perAlg) cache.set(key, (perAlg = new Map()));
  let p = perAlg.get(alg);
  if (!p) perAlg.set(alg, (p = make()));
  return p;
}

function checkFamily(key: KeyObject, alg: number): void {
  const want = keyFamilyForAlg(alg);
  if (keyFamilyOf(key) !== want) {
    throw new ManifestError('bad-signature', `key type ${key.asymmetricKeyType ?? key.type} cannot be used with COSE algorithm ${alg}`);
  }
}

export function webVerifyKey(key: KeyObject, alg: number): Promise<CryptoKey> {
  checkFamily(key, alg);
  return cached(publicCache, key, alg, () =>
    subtle.importKey('spki', key.export({ type: 'spki', format: 'der' }), importParams(alg), false, ['verify']),
  );
}

export function webSignKey(key: KeyObject, alg: number): Promise<CryptoKey> {
  checkFamily(key, alg);
  return cached(privateCache, key, alg, () =>
    subtle.importKey('pkcs8', key.export({ type: 'pkcs8', format: 'der' }), importParams(alg), false, ['sign']),
  );
}

const hmacCache = new Map<string, Promise<CryptoKey>>();
export function webHmacKey(secret: Uint8Array): Promise<CryptoKey> {
  const id = Buffer.from(secret).toString('base64');
  let p = hmacCache.get(id);
  if (!p) {
    if (hmacCache.size > 256) hmacCache.clear();
    p = subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    hmacCache.set(id, p);
  }
  return p;
}

/** Reads a public key from PEM/DER SPKI, a certificate, or derives it from a private key. */
export function loadPublicKey(material: string | Uint8Array | KeyObject): KeyObject {
  if (material instanceof KeyObject) return material.type === 'public' ? material : createPublicKey(material);
  if (typeof material === 'string') return createPublicKey(material);
  return createPublicKey({ key: Buffer.from(material), format: 'der', type: 'spki' });
}

/** The PKCS#11/COSE uncompressed point (0x04||x||y) of a P-256 public key as an SPKI KeyObject. */
export function p256PublicKeyFromPoint(point: Uint8Array): KeyObject {
  if (point.length !== 65 || point[0] !== 0x04) throw new ManifestError('bad-structure', 'P-256 point must be 65 bytes, uncompressed');
  const prefix = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');
  return createPublicKey({ key: Buffer.concat([prefix, point]), format: 'der', type: 'spki' });
}
