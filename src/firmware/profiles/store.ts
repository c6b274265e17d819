/**
 * Security profiles as data, and what pairs each device with one. Defined here (not in
 * src/store/types.ts) because these are this module's tables; SQLite implements them in
 * src/store/sqlite/sqlite-profiles.ts, the in-memory one below serves tests and the
 * memory store. Secrets (tier-1 MAC keys) are plain here; persistent stores seal them.
 */
import type { SecurityProfile } from './profile.js';

/** A key the verifier trusts by kid: a pinned public key (PEM) or a MAC secret (hex, write-only over HTTP). */
export interface TrustedKeySpec {
  readonly kid: string;
  readonly role: string;
  readonly publicKeyPem?: string;
  readonly secretHex?: string;
}

/** A profile as stored and edited: the library's SecurityProfile plus keys pinned without certificates. */
export interface StoredProfile extends SecurityProfile {
  readonly trustedKeys: readonly TrustedKeySpec[];
}

/** Operators pair a whole device type (Object 3 /3/0/17) with a profile and its vendor/class ids. */
export interface DeviceTypePairing {
  readonly deviceType: string;
  readonly profile: string;
  /** 16 bytes, lowercase hex, no dashes. */
  readonly vendorId?: string;
  readonly classId?: string;
}

/** What the server knows about one device's firmware security. */
export interface DeviceProfileRecord {
  readonly endpoint: string;
  /** Explicit assignment by an operator; wins over everything else. */
  readonly assigned?: string;
  /** What the device declared at registration (`sp=` query parameter). */
  readonly declared?: string;
  readonly deviceType?: string;
  readonly vendorId?: string;
  readonly classId?: string;
  /** Sequence number of the manifest the device runs (0 = factory image). */
  readonly installedSequence: number;
  /** kid of the device's payload decryption key: images must be encrypted for it. */
  readonly encryptionKeyId?: string;
  /** Keys this device trusts besides its profile's (per-device tier-1 MAC keys). */
  readonly keys: readonly TrustedKeySpec[];
  readonly updatedAt: number;
}

export interface ProfileStore {
  listProfiles(): Promise<StoredProfile[]>;
  putProfile(profile: StoredProfile): Promise<void>;
  removeProfile(name: string): Promise<boolean>;
  listDeviceTypes(): Promise<DeviceTypePairing[]>;
  putDeviceType(pairing: DeviceTypePairing): Promise<void>;
  removeDeviceType(deviceType: string): Promise<boolean>;
  listDevices(): Promise<DeviceProfileRecord[]>;
  putDevice(record: DeviceProfileRecord): Promise<void>;
  removeDevice(endpoint: string): Promise<boolean>;
  /**
   * Stores `profiles` only the first time the store is ever used, so the tier defaults are
   * present at first start but an operator who deletes one does not see it come back.
   */
  seedOnce(profiles: readonly StoredProfile[]): Promise<boolean>;
}

export class MemoryProfileStore implements ProfileStore {
  private readonly profiles = new Map<string, StoredProfile>();
  private readonly types = new Map<string, DeviceTypePairing>();
  private readonly devices = new Map<string, DeviceProfileRecord>();
  private seeded = false;

  async listProfiles(): Promise<StoredProfile[]> {
    return sorted(this.profiles, (p) => p.name);
  }

  async putProfile(profile: StoredProfile): Promise<void> {
    this.profiles.set(profile.name, structuredClone(profile));
  }

  async removeProfile(name: string): Promise<boolean> {
    return this.profiles.delete(name);
  }

  async listDeviceTypes(): Promise<DeviceTypePairing[]> {
    return sorted(this.types, (t) => t.deviceType);
  }

  async putDeviceType(pairing: DeviceTypePairing): Promise<void> {
    this.types.set(pairing.deviceType, structuredClone(pairing));
  }

  async removeDeviceType(deviceType: string): Promise<boolean> {
    return this.types.delete(deviceType);
  }

  async listDevices(): Promise<DeviceProfileRecord[]> {
    return sorted(this.devices, (d) => d.endpoint);
  }

  async putDevice(record: DeviceProfileRecord): Promise<void> {
    this.devices.set(record.endpoint, structuredClone(record));
  }

  async removeDevice(endpoint: string): Promise<boolean> {
    return this.devices.delete(endpoint);
  }

  async seedOnce(profiles: readonly StoredProfile[]): Promise<boolean> {
    if (this.seeded) return false;
    this.seeded = true;
    for (const profile of profiles) await this.putProfile(profile);
    return true;
  }
}

function sorted<T>(map: Map<string, T>, key: (value: T) => string): T[] {
  return [...map.values()].sort((a, b) => key(a).localeCompare(key(b))).map((value) => structuredClone(value));
}
