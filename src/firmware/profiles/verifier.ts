import { bytesEqual, toHex } from '../manifest/cbor.js';
import { encryptionRecipients } from '../manifest/encryption.js';
import { ManifestError, type ManifestErrorCode } from '../manifest/errors.js';
import { type TrustedKey, type VerifiedManifest, verifyEnvelope } from '../manifest/verify.js';
import { type SecurityProfile, TRANSPORT_STRENGTH, type TransportSecurity } from './profile.js';

export type TransportCheck = { ok: true } | { ok: false; reason: string };

/** Does the device's session meet the profile's transport floor? */
export function verifyTransport(profile: SecurityProfile, transportSecurity: TransportSecurity): TransportCheck {
  const have = TRANSPORT_STRENGTH.indexOf(transportSecurity);
  const need = TRANSPORT_STRENGTH.indexOf(profile.minTransportSecurity);
  if (have < 0) return { ok: false, reason: `unknown transport security '${transportSecurity}'` };
  if (have < need) {
    return { ok: false, reason: `profile ${profile.name} requires at least '${profile.minTransportSecurity}' transport security, device uses '${transportSecurity}'` };
  }
  return { ok: true };
}

/** What the server knows about a device when deciding whether to offer it an image. */
export interface DeviceFacts {
  readonly installedSequence: number;
  readonly vendorId: Uint8Array;
  readonly classId: Uint8Array;
  /** Keys the device trusts besides the profile's anchors (tier 1 MAC keys, pinned public keys). */
  readonly keys?: readonly TrustedKey[];
  /** kid of the device's payload-decryption key; when set, the payload must be encrypted for it. */
  readonly encryptionKeyId?: Uint8Array;
  /** Milliseconds since the epoch for certificate validity; defaults to now. */
  readonly now?: number;
}

export type DeviceVerdict =
  | { ok: true; summary: VerifiedManifest }
  | { ok: false; code: ManifestErrorCode; reason: string };

/**
 * Would this device (and should it) accept this envelope? Checks algorithms, key sizes, signer
 * policy and chains per the profile, encryption, anti-rollback and vendor/class ids.
 */
export async function verifyManifestForDevice(envelope: Uint8Array, profile: SecurityProfile, device: DeviceFacts): Promise<DeviceVerdict> {
  try {
    const summary = await verifyEnvelope(envelope, {
      keys: profile.requireCertificateChain ? device.keys?.filter((k) => k.secret) : device.keys,
      trustAnchors: profile.trustAnchors.map((a) => ({ role: a.role, certificate: a.pem })),
      policy: { required: profile.requiredSigners },
      allowedAlgorithms: profile.allowedAlgorithms,
      minKeyBits: profile.minKeySizes,
      now: device.now,
    });
    if (profile.requireCertificateChain && summary.signers.some((s) => s.kind === 'signature' && !s.viaCertificate)) {
      throw new ManifestError('untrusted-chain', `profile ${profile.name} requires every signature to carry an X.509 chain`);
    }
    checkEncryption(summary, profile, device);
    if (!summary.vendorId || !bytesEqual(summary.vendorId, device.vendorId)) {
      throw new ManifestError('vendor-mismatch', `manifest vendor id ${summary.vendorId ? toHex(summary.vendorId) : '(none)'} is not the device's ${toHex(device.vendorId)}`);
    }
    if (!summary.classId || !bytesEqual(summary.classId, device.classId)) {
      throw new ManifestError('class-mismatch', `manifest class id ${summary.classId ? toHex(summary.classId) : '(none)'} is not the device's ${toHex(device.classId)}`);
    }
    if (summary.sequenceNumber <= device.installedSequence) {
      throw new ManifestError('sequence-not-newer', `manifest sequence ${summary.sequenceNumber} is not above the installed ${device.installedSequence}`);
    }
    return { ok: true, summary };
  } catch (err) {
    if (err instanceof ManifestError) return { ok: false, code: err.code, reason: err.message };
    return { ok: false, code: 'bad-structure', reason: `unexpected verifier failure: ${(err as Error)?.message ?? String(err)}` };
  }
}

function checkEncryption(summary: VerifiedManifest, profile: SecurityProfile, device: DeviceFacts): void {
  if (!summary.encryptionInfo) {
    if (profile.encryptionRequired) throw new ManifestError('encryption-required', `profile ${profile.name} requires an encrypted payload`);
    return;
  }
  const recipients = encryptionRecipients(summary.encryptionInfo);
  const allowed = recipients.filter((r) => r.alg !== 'other' && profile.allowedKeyWrap.includes(r.alg));
  if (allowed.length === 0) {
    throw new ManifestError('algorithm-not-allowed', `payload key wrap (${recipients.map((r) => r.alg).join(', ')}) is not allowed by ${profile.name}`);
  }
  if (device.encryptionKeyId && !allowed.some((r) => r.kid && bytesEqual(r.kid, device.encryptionKeyId!))) {
    throw new ManifestError('decrypt-failed', 'payload is encrypted for a different device key');
  }
}
