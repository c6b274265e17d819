/**
 * Which security profile each device is held to, answered synchronously (the CoAP request
 * path asks on every register/update) from an in-memory copy of the profile tables;
 * changes go to the store first, then to the copy.
 *
 * How a device is paired, strongest first:
 *   1. assigned   – an operator put it on the device: PUT /api/clients/{ep}/profile
 *   2. device-type – the device's record names a device type an operator paired with a profile
 *   3. declared   – the device said `sp=<profile>` in its Register query
 * A declaration never overrides an operator's pairing: a device that could pick its own
 * profile could pick a weaker one.
 */
import { createPublicKey } from 'node:crypto';
import { fromHex } from '../manifest/cbor.js';
import type { TrustedKey } from '../manifest/verify.js';
import { silentLogger, type Logger } from '../../util/logger.js';
import { systemClock, type Clock } from '../../util/clock.js';
import { defaultProfile, TRANSPORT_STRENGTH } from './profile.js';
import type { DeviceFacts } from './verifier.js';
import type { DeviceRecordPatch } from './store-validation.js';
import type { DeviceProfileRecord, DeviceTypePairing, ProfileStore, StoredProfile, TrustedKeySpec } from './store.js';

export type PairingSource = 'assigned' | 'device-type' | 'declared';

export interface ResolvedPairing {
  readonly profile: StoredProfile;
  readonly source: PairingSource;
}

export class ProfileInUseError extends Error {
  override readonly name = 'ProfileInUseError';
}

/** The tier defaults of MISSION §3, as stored profiles (no anchors yet: operators add theirs). */
export function defaultStoredProfiles(): StoredProfile[] {
  return ([1, 2, 3] as const).map((tier) => ({ ...defaultProfile(tier), trustedKeys: [] }));
}

export interface ProfilePairingOptions {
  store: ProfileStore;
  clock?: Clock;
  logger?: Logger;
}

export class ProfilePairing {
  private readonly profilesByName = new Map<string, StoredProfile>();
  private readonly types = new Map<string, DeviceTypePairing>();
  private readonly devices = new Map<string, DeviceProfileRecord>();
  private readonly store: ProfileStore;
  private readonly clock: Clock;
  private readonly logger: Logger;

  private constructor(options: ProfilePairingOptions) {
    this.store = options.store;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
  }

  /** Loads every table; writes the tier defaults the first time the store is used. */
  static async open(options: ProfilePairingOptions): Promise<ProfilePairing> {
    const pairing = new ProfilePairing(options);
    if (await options.store.seedOnce(defaultStoredProfiles())) pairing.logger.info('security profiles: wrote the tier 1-3 defaults');
    for (const profile of await options.store.listProfiles()) pairing.profilesByName.set(profile.name, profile);
    for (const type of await options.store.listDeviceTypes()) pairing.types.set(type.deviceType, type);
    for (const device of await options.store.listDevices()) pairing.devices.set(device.endpoint, device);
    return pairing;
  }

  // ───────────────────────────── profiles ─────────────────────────────

  profiles(): StoredProfile[] {
    return [...this.profilesByName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  profile(name: string): StoredProfile | undefined {
    return this.profilesByName.get(name);
  }

  async putProfile(profile: StoredProfile): Promise<void> {
    await this.store.putProfile(profile);
    this.profilesByName.set(profile.name, profile);
  }

  /** Refused while a device or device type is paired with it (they would silently lose their checks). */
  async removeProfile(name: string): Promise<boolean> {
    if (!this.profilesByName.has(name)) return false;
    const users = this.usersOf(name);
    if (users.length > 0) throw new ProfileInUseError(`profile "${name}" is paired with ${users.slice(0, 10).join(', ')}${users.length > 10 ? ` and ${users.length - 10} more` : ''}; pair them with another profile first`);
    await this.store.removeProfile(name);
    this.profilesByName.delete(name);
    return true;
  }

  private usersOf(name: string): string[] {
    const users: string[] = [];
    for (const type of this.types.values()) if (type.profile === name) users.push(`device type "${type.deviceType}"`);
    for (const device of this.devices.values()) if (device.assigned === name || device.declared === name) users.push(`device "${device.endpoint}"`);
    return users;
  }

  // ───────────────────────────── device types ─────────────────────────────

  /** Whether any device type is paired (asked on every registration: no list is built). */
  hasDeviceTypes(): boolean {
    return this.types.size > 0;
  }

  deviceTypes(): DeviceTypePairing[] {
    return [...this.types.values()].sort((a, b) => a.deviceType.localeCompare(b.deviceType));
  }

  deviceType(type: string): DeviceTypePairing | undefined {
    return this.types.get(type);
  }

  async putDeviceType(pairing: DeviceTypePairing): Promise<void> {
    await this.store.putDeviceType(pairing);
    this.types.set(pairing.deviceType, pairing);
  }

  async removeDeviceType(type: string): Promise<boolean> {
    if (!this.types.has(type)) return false;
    await this.store.removeDeviceType(type);
    this.types.delete(type);
    return true;
  }

  // ───────────────────────────── devices ─────────────────────────────

  device(endpoint: string): DeviceProfileRecord | undefined {
    return this.devices.get(endpoint);
  }

  async updateDevice(endpoint: string, patch: DeviceRecordPatch): Promise<DeviceProfileRecord> {
    const current = this.devices.get(endpoint) ?? emptyRecord(endpoint, this.clock.now());
    const next: Record<string, unknown> = { ...current, updatedAt: this.clock.now() };
    for (const [key, value] of Object.entries(patch)) {
      if (value === null) delete next[key];
      else if (value !== undefined) next[key] = value;
    }
    return this.saveDevice(next as unknown as DeviceProfileRecord);
  }

  async removeDevice(endpoint: string): Promise<boolean> {
    if (!this.devices.has(endpoint)) return false;
    await this.store.removeDevice(endpoint);
    this.devices.delete(endpoint);
    return true;
  }

  /** The device declared `sp=<name>` in an accepted Register; kept so its updates are checked too. */
  async recordDeclared(endpoint: string, name: string): Promise<void> {
    const current = this.devices.get(endpoint);
    if (current?.declared === name) return;
    await this.saveDevice({ ...(current ?? emptyRecord(endpoint, this.clock.now())), declared: name, updatedAt: this.clock.now() });
  }

  /** After an install the device reports success: later manifests must be above this. */
  async setInstalledSequence(endpoint: string, sequence: number): Promise<void> {
    const current = this.devices.get(endpoint) ?? emptyRecord(endpoint, this.clock.now());
    await this.saveDevice({ ...current, installedSequence: sequence, updatedAt: this.clock.now() });
  }

  private async saveDevice(record: DeviceProfileRecord): Promise<DeviceProfileRecord> {
    await this.store.putDevice(record);
    this.devices.set(record.endpoint, record);
    return record;
  }

  // ───────────────────────────── resolution ─────────────────────────────

  /**
   * The profile a device is held to. `declared` is what the request in hand declares (a
   * Register); without it the declaration remembered from the last accepted Register counts.
   */
  resolve(endpoint: string, declared?: string): ResolvedPairing | undefined {
    const record = this.devices.get(endpoint);
    const assigned = record?.assigned !== undefined ? this.profilesByName.get(record.assigned) : undefined;
    if (assigned) return { profile: assigned, source: 'assigned' };
    const type = record?.deviceType !== undefined ? this.types.get(record.deviceType) : undefined;
    const typed = type ? this.profilesByName.get(type.profile) : undefined;
    if (typed) return { profile: typed, source: 'device-type' };
    const name = declared ?? record?.declared;
    const own = name !== undefined ? this.profilesByName.get(name) : undefined;
    return own ? { profile: own, source: 'declared' } : undefined;
  }

  /**
   * What the manifest verifier needs about a device, or why it cannot be had (a device with
   * a profile but no vendor/class ids cannot be checked, so it is offered nothing).
   */
  verifierInput(endpoint: string, now: number): { ok: true; profile: StoredProfile; facts: DeviceFacts } | { ok: false; reason: string } | undefined {
    const pairing = this.resolve(endpoint);
    if (!pairing) return undefined;
    const record = this.devices.get(endpoint);
    const type = record?.deviceType !== undefined ? this.types.get(record.deviceType) : undefined;
    const vendorId = record?.vendorId ?? type?.vendorId;
    const classId = record?.classId ?? type?.classId;
    if (!vendorId || !classId) {
      return { ok: false, reason: `device "${endpoint}" (profile ${pairing.profile.name}) has no ${vendorId ? 'class' : 'vendor'} id: set it with PUT /api/clients/${endpoint}/profile or on its device type` };
    }
    return {
      ok: true,
      profile: pairing.profile,
      facts: {
        installedSequence: record?.installedSequence ?? 0,
        vendorId: fromHex(vendorId),
        classId: fromHex(classId),
        keys: [...toTrustedKeys(pairing.profile.trustedKeys), ...toTrustedKeys(record?.keys ?? [])],
        ...(record?.encryptionKeyId !== undefined ? { encryptionKeyId: new TextEncoder().encode(record.encryptionKeyId) } : {}),
        now,
      },
    };
  }
}

/** Is `a` at least as demanding as `b` on the points a device cannot fake (tier and transport floor)? */
export function atLeastAsStrict(a: StoredProfile, b: StoredProfile): boolean {
  return a.tier >= b.tier && TRANSPORT_STRENGTH.indexOf(a.minTransportSecurity) >= TRANSPORT_STRENGTH.indexOf(b.minTransportSecurity);
}

export function toTrustedKeys(specs: readonly TrustedKeySpec[]): TrustedKey[] {
  return specs.map((spec) =>
    spec.publicKeyPem !== undefined
      ? { kid: spec.kid, role: spec.role, publicKey: createPublicKey(spec.publicKeyPem) }
      : { kid: spec.kid, role: spec.role, secret: fromHex(spec.secretHex ?? '') },
  );
}

function emptyRecord(endpoint: string, now: number): DeviceProfileRecord {
  return { endpoint, installedSequence: 0, keys: [], updatedAt: now };
}
