/**
 * Many deadlines on ONE clock timer: armed for the earliest deadline, re-armed after each
 * firing. Cheap for the few dozen deadlines an endpoint has in flight, and it keeps
 * per-message setTimeout calls off the hot path.
 */
import type { Clock, TimerHandle } from '../util/clock.js';

export interface Deadline {
  dueAt: number;
  fire: () => void;
}

export class TimerQueue {
  private readonly deadlines = new Set<Deadline>();
  private armed: { handle: TimerHandle; at: number } | undefined;

  constructor(private readonly clock: Clock) {}

  schedule(delayMs: number, fire: () => void): Deadline {
    const deadline: Deadline = { dueAt: this.clock.now() + delayMs, fire };
    this.deadlines.add(deadline);
    if (this.armed === undefined || deadline.dueAt < this.armed.at) this.arm(deadline.dueAt);
    return deadline;
  }

  cancel(deadline: Deadline | undefined): void {
    if (deadline !== undefined) this.deadlines.delete(deadline);
    // The armed timer may now fire early for nothing; that is cheaper than re-arming.
  }

  clear(): void {
    this.deadlines.clear();
    if (this.armed !== undefined) this.clock.clearTimeout(this.armed.handle);
    this.armed = undefined;
  }

  get size(): number {
    return this.deadlines.size;
  }

  private arm(at: number): void {
    if (this.armed !== undefined) this.clock.clearTimeout(this.armed.handle);
    const handle = this.clock.setTimeout(() => this.onTimer(), Math.max(0, at - this.clock.now()));
    this.armed = { handle, at };
  }

  private onTimer(): void {
    this.armed = undefined;
    const now = this.clock.now();
    const due: Deadline[] = [];
    for (const deadline of this.deadlines) if (deadline.dueAt <= now) due.push(deadline);
    due.sort((a, b) => a.dueAt - b.dueAt);
    for (const deadline of due) {
      // A callback may have cancelled a later one in this batch.
      if (!this.deadlines.delete(deadline)) continue;
      deadline.fire();
    }
    let next = Infinity;
    for (const deadline of this.deadlines) if (deadline.dueAt < next) next = deadline.dueAt;
    const armed = this.armed as { at: number } | undefined; // callbacks may have re-armed
    if (next !== Infinity && (armed === undefined || next < armed.at)) this.arm(next);
  }
}
