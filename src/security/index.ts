/** Device security: credentials in memory for DTLS, the identity binding policy, the server's own key and certificate. */
export { checkEndpointAccess, expectedCertificateCN, type AccessDecision, type Channel } from './endpoint-access.js';
export { SecurityRegistry, type SecurityChange } from './security-registry.js';
export { guardRequests, type RegistrationGuardOptions } from './registration-guard.js';
export { DeviceRouter, type DeviceRouterOptions } from './device-router.js';
export { followAddressMoves, type AddressMoveSource } from './address-moves.js';
export { bindCoapsTransport, type CoapsTransportOptions } from './coaps-transport.js';
export {
  loadServerCredentials,
  describeServerCredentials,
  ServerCredentialsError,
  GENERATED_CERT_FILE,
  GENERATED_KEY_FILE,
  type ServerCredentials,
  type ServerCredentialsOptions,
  type ServerCredentialsView,
} from './server-credentials.js';
export { createSelfSignedCertificate, type SelfSignedOptions } from './self-signed-certificate.js';
