/**
 * Which devices exist and what they are (type, profile, version, tags, gateway), and
 * whether a device is in a campaign's target.
 */
import { parseVersionRange, versionInRange } from './versions.js';
import type { TargetFilter } from './spec.js';

export interface DeviceFacts {
  endpoint: string;
  deviceType?: string;
  profile?: string;
  /** The firmware version it runs now. */
  version?: string;
  tags?: readonly string[];
  gateway?: string;
}

export interface DeviceInventory {
  /** Every known device. */
  list(): Iterable<DeviceFacts>;
  get(endpoint: string): DeviceFacts | undefined;
  /** A device appeared (registered for the first time): it may join running campaigns. */
  onAdded(listener: (facts: DeviceFacts) => void): () => void;
  /** Brings the facts up to date before a population is drawn (e.g. asks devices not asked yet). */
  refresh?(): Promise<void>;
}

/** Compiled once per campaign: the version range is parsed once, not per device. */
export function targetMatcher(target: TargetFilter, imageDeviceType: string | undefined): (facts: DeviceFacts) => boolean {
  const types = target.deviceTypes ? new Set(target.deviceTypes) : imageDeviceType !== undefined ? new Set([imageDeviceType]) : undefined;
  const profiles = target.profiles ? new Set(target.profiles) : undefined;
  const range = target.versionRange ? parseVersionRange(target.versionRange) : undefined;
  const explicit = target.endpoints ? new Set(target.endpoints) : undefined;
  const tags = target.tags;
  return (facts) => {
    if (explicit && !explicit.has(facts.endpoint)) return false;
    if (types && (facts.deviceType === undefined || !types.has(facts.deviceType))) return false;
    if (profiles && (facts.profile === undefined || !profiles.has(facts.profile))) return false;
    if (range && (facts.version === undefined || !versionInRange(facts.version, range))) return false;
    if (tags && !tags.every((tag) => facts.tags?.includes(tag))) return false;
    return true;
  };
}

/** An inventory kept in memory: what the tests, the benchmark and the LwM2M fleet view fill. */
export class MemoryInventory implements DeviceInventory {
  private readonly devices = new Map<string, DeviceFacts>();
  private readonly listeners = new Set<(facts: DeviceFacts) => void>();

  list(): Iterable<DeviceFacts> {
    return this.devices.values();
  }

  get(endpoint: string): DeviceFacts | undefined {
    return this.devices.get(endpoint);
  }

  /** Adds or updates; listeners hear only of devices not known before. */
  put(facts: DeviceFacts): void {
    const known = this.devices.has(facts.endpoint);
    this.devices.set(facts.endpoint, facts);
    if (!known) for (const listener of this.listeners) listener(facts);
  }

  remove(endpoint: string): void {
    this.devices.delete(endpoint);
  }

  get size(): number {
    return this.devices.size;
  }

  onAdded(listener: (facts: DeviceFacts) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
