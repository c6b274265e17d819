/**
 * A clock that runs `factor` times faster than the one it wraps (serve --time-scale N):
 * integrators rehearse an eight-day plan against the simulated fleet in hours.
 */
import type { Clock, TimerHandle } from '../util/clock.js';

export class ScaledClock implements Clock {
  private readonly baseReal: number;
  private readonly baseScaled: number;

  constructor(
    private readonly real: Clock,
    readonly factor: number,
  ) {
    if (!(factor > 0) || !Number.isFinite(factor)) throw new Error(`time scale must be a positive number, got ${factor}`);
    this.baseReal = real.now();
    this.baseScaled = this.baseReal;
  }

  now(): number {
    return this.baseScaled + (this.real.now() - this.baseReal) * this.factor;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    return this.real.setTimeout(callback, delayMs / this.factor);
  }

  clearTimeout(handle: TimerHandle): void {
    this.real.clearTimeout(handle);
  }
}

/**
 * The clock of a rehearsal (serve --time-scale N): one instance shared by the rollout
 * scheduler and the firmware delivery service, so per-phase timeouts, deferral waits and
 * retries run as fast as the plan. Without a scale (or 1), the clock itself.
 */
export function rehearsalClock(clock: Clock, timeScale: number | undefined): Clock {
  return timeScale === undefined || timeScale === 1 ? clock : new ScaledClock(clock, timeScale);
}
