/**
 * The device's observers (RFC 7641 server side). One periodic check per device, not one
 * timer per observation: each tick renders every observed target, and `shouldNotify`
 * decides from pmin/pmax/gt/lt/st whether it goes out. Sequence numbers come from one
 * per-device counter, so they only ever increase.
 */
import type { RemoteAddress } from '../../../src/coap/types.js';
import { formatPath, pathIds, type LwM2mPath } from '../../../src/lwm2m/path.js';
import type { Clock, TimerHandle } from '../../../src/util/clock.js';
import type { NotificationAttributes } from './attributes.js';
import { shouldNotify } from './notify-rule.js';

export interface ObservationTarget {
  paths: LwM2mPath[];
  /** FETCH with a path list (composite observe) rather than GET on one path. */
  composite: boolean;
  format: number;
}

export interface Rendered {
  payload: Buffer;
  /** The value when the target is one numeric resource (for gt/lt/st). */
  number?: number;
}

export interface ObservationEntry extends ObservationTarget {
  remote: RemoteAddress;
  token: Buffer;
  lastPayload: Buffer;
  lastNumber?: number;
  lastSentAt: number;
}

export interface ObservationHooks {
  clock: Clock;
  checkIntervalMs: number;
  /** Throws when the target is gone (then the observation ends). */
  render(target: ObservationTarget): Rendered;
  attributes(target: ObservationTarget): NotificationAttributes;
  send(entry: ObservationEntry, rendered: Rendered, sequence: number): void;
}

const keyOf = (remote: RemoteAddress, token: Buffer): string =>
  `${remote.address}:${remote.port}/${token.toString('hex')}`;

export class ObservationSet {
  private readonly entries = new Map<string, ObservationEntry>();
  private sequence = 0;
  private timer: TimerHandle | undefined;
  private paused = false;

  constructor(private readonly hooks: ObservationHooks) {}

  get size(): number {
    return this.entries.size;
  }

  /** Registers (or replaces) an observer; returns the sequence number of the first response. */
  add(remote: RemoteAddress, token: Buffer, target: ObservationTarget, first: Rendered): number {
    this.entries.set(keyOf(remote, token), {
      ...target,
      remote,
      token: Buffer.from(token),
      lastPayload: first.payload,
      lastNumber: first.number,
      lastSentAt: this.hooks.clock.now(),
    });
    this.schedule();
    return this.nextSequence();
  }

  cancel(remote: RemoteAddress, token: Buffer): boolean {
    const removed = this.entries.delete(keyOf(remote, token));
    if (this.entries.size === 0) this.unschedule();
    return removed;
  }

  /** Ends observations of a path and of anything below it (an instance was deleted). */
  cancelBelow(path: LwM2mPath): void {
    const prefix = pathIds(path);
    for (const [key, entry] of this.entries) {
      if (entry.paths.some((p) => prefix.every((id, i) => pathIds(p)[i] === id))) this.entries.delete(key);
    }
    if (this.entries.size === 0) this.unschedule();
  }

  clear(): void {
    this.entries.clear();
    this.unschedule();
  }

  /** While asleep nothing is checked; on wake, changes made meanwhile go out at once. */
  setPaused(paused: boolean): void {
    this.paused = paused;
    if (paused) this.unschedule();
    else {
      this.checkNow();
      this.schedule();
    }
  }

  /** Evaluates every observation now (after a write, and on every tick). */
  checkNow(): void {
    if (this.paused) return;
    const now = this.hooks.clock.now();
    for (const [key, entry] of this.entries) {
      let rendered: Rendered;
      try {
        rendered = this.hooks.render(entry);
      } catch {
        this.entries.delete(key);
        continue;
      }
      const due = shouldNotify({
        now,
        lastSentAt: entry.lastSentAt,
        attributes: this.hooks.attributes(entry),
        changed: !rendered.payload.equals(entry.lastPayload),
        lastNumber: entry.lastNumber,
        currentNumber: rendered.number,
      });
      if (!due) continue;
      entry.lastPayload = rendered.payload;
      entry.lastNumber = rendered.number;
      entry.lastSentAt = now;
      this.hooks.send(entry, rendered, this.nextSequence());
    }
    if (this.entries.size === 0) this.unschedule();
  }

  describe(): string[] {
    return [...this.entries.values()].map((e) => e.paths.map(formatPath).join(','));
  }

  private nextSequence(): number {
    this.sequence = (this.sequence + 1) & 0xffffff;
    return this.sequence;
  }

  private schedule(): void {
    if (this.timer || this.paused || this.entries.size === 0) return;
    this.timer = this.hooks.clock.setTimeout(() => {
      this.timer = undefined;
      this.checkNow();
      this.schedule();
    }, this.hooks.checkIntervalMs);
  }

  private unschedule(): void {
    if (this.timer) this.hooks.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
