export { type SecurityProfile, type TransportSecurity, TRANSPORT_STRENGTH, defaultProfile } from './profile.js';
export { verifyTransport, verifyManifestForDevice, type DeviceFacts, type DeviceVerdict, type TransportCheck } from './verifier.js';
