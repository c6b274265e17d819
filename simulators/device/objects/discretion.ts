/**
 * Our vendor object 26250 "Update Discretion" (objects/26250.xml) on the simulated device:
 * a busy/idle cycle (or a state set by a test), battery, external power, the user's
 * deferral and the sleep schedule, so the rollout scheduler's idle-window logic runs
 * against devices that really change their mind.
 */
import type { Clock } from '../../../src/util/clock.js';
import { computedResource, SimInstance, singleInstanceObject, type SimObject } from './base.js';

export const DISCRETION_OBJECT_ID = 26250;
const OPEN_ENDED = 4294967295;

export interface DiscretionSchedule {
  /** Busy for busyMs, then idle for idleMs, repeating (shifted by offsetMs). */
  cycle?: { busyMs: number; idleMs: number; offsetMs?: number; reason?: string };
  batteryPercent?: number;
  externalPower?: boolean;
  /** Epoch ms until which the user defers updates. */
  deferredUntil?: number;
  gateway?: string;
}

export interface DiscretionNow {
  idle: boolean;
  reason: string;
  /** Seconds left in the idle window (OPEN_ENDED when it has no end). */
  windowSec: number;
}

export class DeviceDiscretion {
  private override: { idle: boolean; reason: string; until?: number } | undefined;
  private listeners = new Set<() => void>();
  /** Told how the sleep schedule looks (set by the simulated device in queue mode). */
  sleep: () => { nextWakeAt?: number; awakeMs?: number } = () => ({});

  constructor(
    private readonly clock: Clock,
    readonly schedule: DiscretionSchedule = {},
  ) {}

  now(): DiscretionNow {
    const t = this.clock.now();
    if (this.override) {
      const left = this.override.until === undefined ? OPEN_ENDED : Math.max(0, Math.floor((this.override.until - t) / 1000));
      return { idle: this.override.idle, reason: this.override.reason, windowSec: this.override.idle ? left : 0 };
    }
    const cycle = this.schedule.cycle;
    if (!cycle) return { idle: true, reason: '', windowSec: OPEN_ENDED };
    const period = cycle.busyMs + cycle.idleMs;
    const phase = (((t + (cycle.offsetMs ?? 0)) % period) + period) % period;
    if (phase < cycle.busyMs) return { idle: false, reason: cycle.reason ?? 'busy', windowSec: 0 };
    return { idle: true, reason: '', windowSec: Math.floor((period - phase) / 1000) };
  }

  isBusy(): boolean {
    return !this.now().idle;
  }

  /** A test makes the device busy (e.g. "driving") until told otherwise. */
  setBusy(reason: string): void {
    this.override = { idle: false, reason };
    this.changed();
  }

  /** A test makes the device idle, for `windowMs` (or open-ended). */
  setIdle(windowMs?: number): void {
    this.override = { idle: true, reason: '', ...(windowMs !== undefined ? { until: this.clock.now() + windowMs } : {}) };
    this.changed();
  }

  /** Back to the schedule's cycle. */
  followSchedule(): void {
    this.override = undefined;
    this.changed();
  }

  setBattery(percent: number, externalPower = this.schedule.externalPower ?? false): void {
    this.schedule.batteryPercent = percent;
    this.schedule.externalPower = externalPower;
    this.changed();
  }

  deferUntil(epochMs: number | undefined): void {
    this.schedule.deferredUntil = epochMs;
    this.changed();
  }

  /**
   * undefined while idle; while busy, a promise that settles when the device turns idle again
   * (told by setIdle/followSchedule, or found by checking the schedule every `checkMs`).
   */
  whenIdle(checkMs = 250): Promise<void> | undefined {
    if (!this.isBusy()) return undefined;
    return new Promise((resolve) => {
      let timer: ReturnType<Clock['setTimeout']> | undefined;
      const done = (): boolean => {
        if (this.isBusy()) return false;
        off();
        if (timer) this.clock.clearTimeout(timer);
        resolve();
        return true;
      };
      const off = this.onChange(() => void done());
      const poll = (): void => {
        if (!done()) timer = this.clock.setTimeout(poll, checkMs);
      };
      timer = this.clock.setTimeout(poll, checkMs);
    });
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}

export function discretionObject(discretion: DeviceDiscretion): SimObject {
  const s = discretion.schedule;
  const instance = new SimInstance(0, [
    computedResource(0, 'integer', () => (discretion.now().idle ? 0 : 1)),
    computedResource(1, 'string', () => discretion.now().reason),
    computedResource(2, 'integer', () => discretion.now().windowSec),
    computedResource(3, 'time', () => new Date(discretion.sleep().nextWakeAt ?? 0)),
    computedResource(4, 'integer', () => Math.floor((discretion.sleep().awakeMs ?? 0) / 1000)),
    computedResource(5, 'integer', () => s.batteryPercent ?? 100),
    computedResource(6, 'boolean', () => s.externalPower ?? false),
    computedResource(7, 'time', () => new Date(s.deferredUntil ?? 0)),
    computedResource(8, 'string', () => s.gateway ?? ''),
  ]);
  return singleInstanceObject(DISCRETION_OBJECT_ID, instance);
}
