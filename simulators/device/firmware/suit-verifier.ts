/**
 * What a simulated device paired with a security profile does with a downloaded package
 * before it installs it: the package must be a SUIT envelope with its payload integrated
 * (src/firmware/profiles/pairing-package.ts); the manifest must verify under the device's
 * own profile, trust anchors and keys, be for its vendor/class, and carry a sequence number
 * above the one it runs; the payload is then decrypted and inflated and must match the
 * manifest's digest and size. The result is the plain image written to the slot.
 *
 * Refusals map to Object 5 Update Results: 5 (integrity check failure) when the package is
 * for this device but cannot be trusted or opened, 6 (unsupported package type) when it is
 * not a package this device can take at all (not SUIT, other vendor/class, algorithms or
 * protection its profile does not accept).
 */
import type { ManifestErrorCode } from '../../../src/firmware/manifest/errors.js';
import { ManifestError } from '../../../src/firmware/manifest/errors.js';
import type { PayloadDecryptionKey } from '../../../src/firmware/manifest/encryption.js';
import { openImage } from '../../../src/firmware/manifest/image.js';
import type { TrustedKey } from '../../../src/firmware/manifest/verify.js';
import { looksLikeSuit, splitPackage } from '../../../src/firmware/profiles/pairing-package.js';
import type { SecurityProfile } from '../../../src/firmware/profiles/profile.js';
import { verifyManifestForDevice } from '../../../src/firmware/profiles/verifier.js';
import type { DeviceKeySource } from './key-source.js';

export interface DeviceSuitConfig {
  /** The device's own profile; its trustAnchors are the CAs the device trusts. */
  profile: SecurityProfile;
  /** Keys the device trusts besides its anchors (its tier-1 MAC key, pinned public keys). */
  keys?: TrustedKey[];
  vendorId: Uint8Array;
  classId: Uint8Array;
  /** Opens encrypted payloads; its kid (if any) is the one images must be encrypted for. */
  decryptionKey?: PayloadDecryptionKey;
  /** Where the decryption key lives (memory or a PKCS#11 token); takes precedence over decryptionKey. */
  keySource?: DeviceKeySource;
  /** Sequence number of the factory image (default 0). */
  factorySequence?: number;
  /** For certificate validity (default Date.now). */
  now?: () => number;
}

export type SuitPackageVerdict = { ok: true; image: Buffer; sequence: number } | { ok: false; result: 5 | 6; reason: string };

const NOT_FOR_THIS_DEVICE = new Set<ManifestErrorCode>(['bad-cbor', 'bad-structure', 'unsupported', 'vendor-mismatch', 'class-mismatch', 'algorithm-not-allowed', 'encryption-required']);

export function updateResultFor(code: ManifestErrorCode): 5 | 6 {
  return NOT_FOR_THIS_DEVICE.has(code) ? 6 : 5;
}

export async function openSuitPackage(bytes: Uint8Array, config: DeviceSuitConfig, installedSequence: number): Promise<SuitPackageVerdict> {
  if (!looksLikeSuit(bytes)) return { ok: false, result: 6, reason: 'not a SUIT package: this device installs signed images only' };
  const decryptionKey = config.keySource?.decryptionKey ?? config.decryptionKey;
  try {
    const { envelope, payload } = splitPackage(bytes);
    const verdict = await verifyManifestForDevice(envelope, config.profile, {
      installedSequence,
      vendorId: config.vendorId,
      classId: config.classId,
      keys: config.keys,
      encryptionKeyId: decryptionKey?.kid,
      now: config.now?.() ?? Date.now(),
    });
    if (!verdict.ok) return { ok: false, result: updateResultFor(verdict.code), reason: verdict.reason };
    const image = await openImage(verdict.summary, payload, decryptionKey);
    return { ok: true, image: Buffer.from(image), sequence: verdict.summary.sequenceNumber };
  } catch (err) {
    if (err instanceof ManifestError) return { ok: false, result: updateResultFor(err.code), reason: err.message };
    return { ok: false, result: 5, reason: `package check failed: ${(err as Error)?.message ?? String(err)}` };
  }
}
