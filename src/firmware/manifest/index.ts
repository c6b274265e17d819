export { ManifestError, type ManifestErrorCode } from './errors.js';
export { COSE_ALG, type AuthAlgName, type SignatureAlgName, type KeyWrapAlgName, authAlgId, authAlgName } from './algorithms.js';
export { type CborValue, Tagged, encodeCbor, decodeCbor, toHex, fromHex } from './cbor.js';
export { type CoseSigner, type CoseMacKey, type CoseAuthenticator, softwareSigner, createAuthBlock, parseAuthBlock } from './cose.js';
export { loadPublicKey, keyBits, p256PublicKeyFromPoint } from './keys.js';
export { type TrustAnchor, validateChain } from './x509.js';
export { sha256, sha256Digest } from './digest.js';
export { buildEnvelope, decodeEnvelope, parseManifest, type DecodedEnvelope } from './envelope.js';
export {
  verifyEnvelope,
  describeManifest,
  DEFAULT_MIN_KEY_BITS,
  type TrustedKey,
  type SignerPolicy,
  type KeySizeMinimums,
  type VerifyOptions,
  type VerifiedSigner,
  type VerifiedManifest,
} from './verify.js';
export {
  encryptImage,
  decryptImage,
  encryptionRecipients,
  inflate,
  type PayloadRecipient,
  type PayloadDecryptionKey,
  type KeyAgreement,
  type EncryptedPayload,
} from './encryption.js';
export { aesKeyWrap, aesKeyUnwrap, hkdfSha256 } from './keywrap.js';
export { openImage } from './image.js';
export type { ManifestSpec, ParsedManifest, ManifestText, SuitDigest } from './types.js';
export { SUIT_ENVELOPE_TAG, ENVELOPE, MANIFEST, COMMON, COMMAND, PARAMETER } from './suit-constants.js';
