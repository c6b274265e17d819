import type { Clock } from '../../../src/util/clock.js';

/**
 * What the objects need from their device: time, a stable identity to derive realistic
 * values from, and hooks into the device's behaviour (reboot, registration update...).
 */
export interface ObjectContext {
  clock: Clock;
  endpointName: string;
  /** A number derived from the endpoint name, so each device looks different but stable. */
  seed: number;
  /** When the device (re)booted, in clock milliseconds. */
  bootedAt: () => number;
  serverUri: string;
  lifetimeSec: number;
  binding: string;
  onReboot: () => void;
  onFactoryReset: () => void;
  /** The server wrote a new lifetime or binding, or executed "Registration Update Trigger". */
  onRegistrationChange: () => void;
}

/** FNV-1a: a small stable hash of the endpoint name. */
export function seedFrom(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
