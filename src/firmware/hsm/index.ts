export { type HsmConfig, hsmConfigFromEnv } from './config.js';
export { Pkcs11Session } from './pkcs11-signer.js';
