import { KeyObject, createPublicKey, randomBytes, webcrypto } from 'node:crypto';
import { deflateSync, inflateSync } from 'node:zlib';
import { COSE_ALG } from './algorithms.js';
import { type CborMap, type CborValue, Tagged, bytesEqual, decodeCbor, encodeCbor, expectArray, expectBytes, expectInt, expectMap } from './cbor.js';
import { COSE_HEADER, COSE_TAG, parseProtected } from './cose.js';
import { ManifestError } from './errors.js';
import { aesKeyUnwrap, aesKeyWrap, hkdfSha256 } from './keywrap.js';
import { p256PublicKeyFromPoint } from './keys.js';

const subtle = webcrypto.subtle;

/** Who can open the payload: a pre-shared KEK (tier 1) or a device's P-256 key (tiers 2-3). */
export type PayloadRecipient =
  | { readonly kind: 'aes-kw'; readonly kek: Uint8Array; readonly kid?: Uint8Array }
  | { readonly kind: 'ecdh-es'; readonly publicKey: KeyObject; readonly kid?: Uint8Array };

/**
 * ECDH done wherever the device's private key lives (a PKCS#11 token, a secure element):
 * returns the raw P-256 shared secret (the 32-byte x-coordinate) with `ephemeralPublicKey`.
 * HKDF and AES-KW stay here, so a token only has to offer plain ECDH.
 */
export type KeyAgreement = (ephemeralPublicKey: KeyObject) => Uint8Array | Promise<Uint8Array>;

/** The device-side secret that opens a payload: a key in memory, or a hook into a token. */
export type PayloadDecryptionKey =
  | { readonly kind: 'aes-kw'; readonly kek: Uint8Array; readonly kid?: Uint8Array }
  | { readonly kind: 'ecdh-es'; readonly privateKey: KeyObject; readonly kid?: Uint8Array }
  | { readonly kind: 'ecdh-es'; readonly agree: KeyAgreement; readonly kid?: Uint8Array };

export interface EncryptedPayload {
  /** AES-128-GCM ciphertext with its 16-byte tag appended; detached from the COSE structure. */
  readonly ciphertext: Uint8Array;
  /** Tagged COSE_Encrypt for suit-parameter-encryption-info. */
  readonly encryptionInfo: Uint8Array;
}

const EMPTY = new Uint8Array(0);
const KDF_OTHER = 'SUIT Payload Encryption';

function encStructure(protectedBytes: Uint8Array): Uint8Array {
  return encodeCbor(['Encrypt', protectedBytes, EMPTY]);
}

/** COSE_KDF_Context (RFC 9053 §5.2) as draft-ietf-suit-firmware-encryption profiles it. */
function kdfContext(recipientProtected: Uint8Array): Uint8Array {
  return encodeCbor([COSE_ALG.A128KW, [null, null, null], [null, null, null], [128, recipientProtected, KDF_OTHER]]);
}

async function ecdhSharedSecret(privateKey: KeyObject | webcrypto.CryptoKey, publicKey: KeyObject): Promise<Uint8Array> {
  const params = { name: 'ECDH', namedCurve: 'P-256' };
  const priv =
    privateKey instanceof KeyObject
      ? await subtle.importKey('pkcs8', privateKey.export({ type: 'pkcs8', format: 'der' }), params, false, ['deriveBits'])
      : privateKey;
  const pub = await subtle.importKey('spki', publicKey.export({ type: 'spki', format: 'der' }), params, false, []);
  return new Uint8Array(await subtle.deriveBits({ name: 'ECDH', public: pub } as webcrypto.EcdhKeyDeriveParams, priv, 256));
}

function coseEcKey(publicKey: KeyObject): CborMap {
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.crv !== 'P-256' || !jwk.x || !jwk.y) throw new ManifestError('bad-structure', 'ECDH-ES recipients need a P-256 public key');
  return new Map<CborValue, CborValue>([
    [1, 2],
    [-1, 1],
    [-2, new Uint8Array(Buffer.from(jwk.x, 'base64url'))],
    [-3, new Uint8Array(Buffer.from(jwk.y, 'base64url'))],
  ]);
}

function publicKeyFromCose(v: CborValue): KeyObject {
  const m = expectMap(v, 'ephemeral key');
  if (m.get(1) !== 2 || m.get(-1) !== 1) throw new ManifestError('unsupported', 'ephemeral key must be an EC2 P-256 key');
  const x = expectBytes(m.get(-2) ?? null, 'ephemeral key x');
  const y = expectBytes(m.get(-3) ?? null, 'ephemeral key y');
  if (x.length !== 32 || y.length !== 32) throw new ManifestError('bad-structure', 'ephemeral key coordinates must be 32 bytes');
  try {
    return p256PublicKeyFromPoint(new Uint8Array([4, ...x, ...y]));
  } catch {
    throw new ManifestError('decrypt-failed', 'ephemeral key is not a point on P-256');
  }
}

async function wrapFor(recipient: PayloadRecipient, cek: Uint8Array): Promise<CborValue[]> {
  if (recipient.kind === 'aes-kw') {
    if (recipient.kek.length !== 16) throw new ManifestError('bad-structure', 'A128KW needs a 16-byte key');
    const unprot: CborMap = new Map<CborValue, CborValue>([[COSE_HEADER.alg, COSE_ALG.A128KW]]);
    if (recipient.kid) unprot.set(COSE_HEADER.kid, recipient.kid);
    return [EMPTY, unprot, aesKeyWrap(recipient.kek, cek)];
  }
  const { privateKey: ephemeral, publicKey: ephemeralPublic } = (await subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, [
    'deriveBits',
  ])) as webcrypto.CryptoKeyPair;
  const protectedBytes = encodeCbor(new Map([[COSE_HEADER.alg, COSE_ALG.ECDH_ES_A128KW]]));
  const shared = await ecdhSharedSecret(ephemeral, recipient.publicKey);
  const kek = hkdfSha256(shared, EMPTY, kdfContext(protectedBytes), 16);
  const ephemeralKeyObject = createPublicKey({ key: Buffer.from(await subtle.exportKey('spki', ephemeralPublic)), format: 'der', type: 'spki' });
  const unprot: CborMap = new Map<CborValue, CborValue>([[COSE_HEADER.ephemeralKey, coseEcKey(ephemeralKeyObject)]]);
  if (recipient.kid) unprot.set(COSE_HEADER.kid, recipient.kid);
  return [protectedBytes, unprot, aesKeyWrap(kek, cek)];
}

/**
 * Encrypts an image for one recipient: AES-128-GCM under a fresh content key, the key wrapped
 * for the recipient. With `compress`, the image is zlib-deflated first (compressing
 * ciphertext is useless).
 */
export async function encryptImage(image: Uint8Array, recipient: PayloadRecipient, opts: { compress?: boolean } = {}): Promise<EncryptedPayload> {
  const plaintext = opts.compress ? new Uint8Array(deflateSync(image, { level: 9 })) : image;
  const cek = new Uint8Array(randomBytes(16));
  const iv = new Uint8Array(randomBytes(12));
  const protectedBytes = encodeCbor(new Map([[COSE_HEADER.alg, COSE_ALG.A128GCM]]));
  const key = await subtle.importKey('raw', cek, 'AES-GCM', false, ['encrypt']);
  const ciphertext = new Uint8Array(
    await subtle.encrypt({ name: 'AES-GCM', iv, additionalData: encStructure(protectedBytes), tagLength: 128 }, key, plaintext),
  );
  const recipientStructure = await wrapFor(recipient, cek);
  const encryptionInfo = encodeCbor(
    new Tagged(COSE_TAG.Encrypt, [protectedBytes, new Map([[COSE_HEADER.iv, iv]]), null, [recipientStructure]]),
  );
  return { ciphertext, encryptionInfo };
}

interface ParsedEncryptionInfo {
  protectedBytes: Uint8Array;
  iv: Uint8Array;
  recipients: { alg: number; kid?: Uint8Array; protectedBytes: Uint8Array; unprotected: CborMap; wrapped: Uint8Array }[];
}

function parseEncryptionInfo(bytes: Uint8Array): ParsedEncryptionInfo {
  const top = decodeCbor(bytes);
  if (!(top instanceof Tagged) || top.tag !== COSE_TAG.Encrypt) throw new ManifestError('unsupported', 'encryption-info must be a tagged COSE_Encrypt');
  const arr = expectArray(top.value, 'COSE_Encrypt');
  if (arr.length !== 4) throw new ManifestError('bad-structure', 'COSE_Encrypt must have 4 elements');
  const protectedBytes = expectBytes(arr[0], 'COSE_Encrypt protected');
  const alg = parseProtected(protectedBytes, 'COSE_Encrypt protected').get(COSE_HEADER.alg);
  if (alg !== COSE_ALG.A128GCM) throw new ManifestError('unsupported', `content encryption algorithm ${String(alg)} is not supported (A128GCM only)`);
  const iv = expectBytes(expectMap(arr[1], 'COSE_Encrypt unprotected').get(COSE_HEADER.iv) ?? null, 'IV');
  if (iv.length !== 12) throw new ManifestError('bad-structure', 'AES-GCM IV must be 12 bytes');
  if (arr[2] !== null) throw new ManifestError('bad-structure', 'ciphertext must be detached');
  const recipients = expectArray(arr[3], 'recipients').map((r) => {
    const ra = expectArray(r, 'recipient');
    if (ra.length !== 3) throw new ManifestError('bad-structure', 'recipient must have 3 elements');
    const rp = expectBytes(ra[0], 'recipient protected');
    const prot = parseProtected(rp, 'recipient protected');
    const unprotected = expectMap(ra[1], 'recipient unprotected');
    const algValue = prot.get(COSE_HEADER.alg) ?? unprotected.get(COSE_HEADER.alg) ?? null;
    const kidValue = unprotected.get(COSE_HEADER.kid) ?? prot.get(COSE_HEADER.kid);
    return {
      alg: expectInt(algValue, 'recipient alg'),
      kid: kidValue === undefined ? undefined : expectBytes(kidValue, 'recipient kid'),
      protectedBytes: rp,
      unprotected,
      wrapped: expectBytes(ra[2], 'wrapped key'),
    };
  });
  return { protectedBytes, iv, recipients };
}

/** Key ids the payload is encrypted for; lets a server check it targets the right device. */
export function encryptionRecipients(encryptionInfo: Uint8Array): { alg: 'A128KW' | 'ECDH-ES+A128KW' | 'other'; kid?: Uint8Array }[] {
  return parseEncryptionInfo(encryptionInfo).recipients.map((r) => ({
    alg: r.alg === COSE_ALG.A128KW ? 'A128KW' : r.alg === COSE_ALG.ECDH_ES_A128KW ? 'ECDH-ES+A128KW' : 'other',
    kid: r.kid,
  }));
}

async function unwrapCek(info: ParsedEncryptionInfo, key: PayloadDecryptionKey): Promise<Uint8Array> {
  const wantAlg = key.kind === 'aes-kw' ? COSE_ALG.A128KW : COSE_ALG.ECDH_ES_A128KW;
  const candidates = info.recipients.filter((r) => r.alg === wantAlg && (!key.kid || !r.kid || bytesEqual(key.kid, r.kid)));
  if (candidates.length === 0) throw new ManifestError('decrypt-failed', 'payload is not encrypted for this device key');
  for (const r of candidates) {
    try {
      if (key.kind === 'aes-kw') return aesKeyUnwrap(key.kek, r.wrapped);
      const ephemeral = publicKeyFromCose(r.unprotected.get(COSE_HEADER.ephemeralKey) ?? null);
      const shared = 'agree' in key ? await key.agree(ephemeral) : await ecdhSharedSecret(key.privateKey, ephemeral);
      if (shared.length !== 32) throw new ManifestError('hsm-error', `key agreement returned ${shared.length} bytes, P-256 gives 32`);
      return aesKeyUnwrap(hkdfSha256(shared, EMPTY, kdfContext(r.protectedBytes), 16), r.wrapped);
    } catch (err) {
      if (!(err instanceof ManifestError) || err.code !== 'decrypt-failed') throw err;
    }
  }
  throw new ManifestError('decrypt-failed', 'content key could not be unwrapped: payload encrypted for another key');
}

/** Opens a payload; the result is still compressed if the manifest says so (see inflate). */
export async function decryptImage(ciphertext: Uint8Array, encryptionInfo: Uint8Array, key: PayloadDecryptionKey): Promise<Uint8Array> {
  const info = parseEncryptionInfo(encryptionInfo);
  const cek = await unwrapCek(info, key);
  if (cek.length !== 16) throw new ManifestError('decrypt-failed', 'unwrapped content key has the wrong length');
  try {
    const k = await subtle.importKey('raw', cek, 'AES-GCM', false, ['decrypt']);
    return new Uint8Array(await subtle.decrypt({ name: 'AES-GCM', iv: info.iv, additionalData: encStructure(info.protectedBytes), tagLength: 128 }, k, ciphertext));
  } catch {
    throw new ManifestError('decrypt-failed', 'payload authentication failed: ciphertext altered or wrong key');
  }
}

/** Inflates a zlib payload, refusing to expand beyond `maxSize` (decompression bombs). */
export function inflate(data: Uint8Array, maxSize: number): Uint8Array {
  try {
    return new Uint8Array(inflateSync(data, { maxOutputLength: Math.max(1, maxSize) }));
  } catch (err) {
    throw new ManifestError('decrypt-failed', `payload does not decompress within ${maxSize} bytes: ${(err as Error).message}`);
  }
}
