export { type HsmConfig, hsmConfigFromEnv } from './config.js';
export { Pkcs11Session } from './pkcs11-signer.js';
export { P256_SHARED_SECRET_BYTES } from './pkcs11-ecdh.js';
