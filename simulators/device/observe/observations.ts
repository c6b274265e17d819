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
  /** A change was seen but held back (pmin): the tick must look again. */
  heldBack: boolean;
}

export interface ObservationHooks {
  clock: Clock;
  checkIntervalMs: number;
  /** Throws when the target is gone (then the observation ends). */
  render(target: ObservationTarget): Rendered;
  attributes(target: ObservationTarget): NotificationAttributes;
  send(entry: ObservationEntry, rendered: Rendered, sequence: number): void;
  /**
   * True when every change of the target's values is followed by a checkNow() (writes and
   * state changes the device announces): the periodic tick then skips rendering it unless
   * a change was held back or pmax asks for periodic notifications. Absent: always render.
   */
  announcesChanges?(target: ObservationTarget): boolean;
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
      heldBack: false,
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

  /** Evaluates every observation now (after a write or a state change). */
  checkNow(): void {
    this.check(false);
  }

  /**
   * `tick`: the periodic check, which catches values that change by themselves (time,
   * battery) and pmax; an observation whose changes are all announced needs it only for
   * pmax or a change held back by pmin (re-rendering every observed /5/0 of a thousand
   * simulated devices each second was a tenth of a fleet process's work).
   */
  private check(tick: boolean): void {
    if (this.paused) return;
    const now = this.hooks.clock.now();
    for (const [key, entry] of this.entries) {
      const attributes = this.hooks.attributes(entry);
      if (tick && !entry.heldBack && !(attributes.pmax !== undefined && attributes.pmax > 0) && this.hooks.announcesChanges?.(entry) === true) continue;
      let rendered: Rendered;
      try {
        rendered = this.hooks.render(entry);
      } catch {
        this.entries.delete(key);
        continue;
      }
      const changed = !rendered.payload.equals(entry.lastPayload);
      const due = shouldNotify({
        now,
        lastSentAt: entry.lastSentAt,
        attributes,
        changed,
        lastNumber: entry.lastNumber,
        currentNumber: rendered.number,
      });
      entry.heldBack = changed && !due;
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
      this.check(true);
      this.schedule();
    }, this.hooks.checkIntervalMs);
  }

  private unschedule(): void {
    if (this.timer) this.hooks.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
