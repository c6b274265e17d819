/**
 * What a device tells us about when it may be disturbed (our vendor object 26250, see
 * objects/26250.xml), and the pure checks the scheduler makes with it: may a transfer
 * start now, may Update run now.
 */
export interface DiscretionStatus {
  idle: boolean;
  /** Why it is busy ("driving", "control loop", "user active"). */
  busyReason?: string;
  /** When the current idle window is expected to end (ms epoch); undefined = open-ended. */
  idleUntil?: number;
  /** A sleepy (queue-mode) device that cannot be reached now. */
  asleep?: boolean;
  nextWakeAt?: number;
  /** End of the current awake period of a sleepy device. */
  awakeUntil?: number;
  batteryPercent?: number;
  externalPower?: boolean;
  /** The user deferred updates until then. */
  deferredUntil?: number;
  /** IANA timezone (Device /3/0/15), for maintenance windows. */
  timezone?: string;
  /** The gateway or subnet the device sits behind, for per-gateway limits. */
  gateway?: string;
}

/** Where the scheduler reads device status. undefined = the device reports nothing (taken as always available). */
export interface DiscretionSource {
  get(endpoint: string): DiscretionStatus | undefined;
  /** Told when a device's status changes, so a transfer pauses at once rather than at the next tick. */
  onChange?(listener: (endpoint: string) => void): () => void;
}

export interface WindowPolicy {
  minBatteryPercent: number;
  windowMargin: number;
  maxDeferralMs: number;
}

export type Verdict = { ok: true } | { ok: false; reason: string };

const OK: Verdict = { ok: true };

/**
 * May a transfer of `estimateMs` start now? The idle window (and, for a sleepy device, its
 * awake period) must outlast the estimate times the margin. A deferral is honoured until
 * `maxDeferralMs` after the device first deferred this campaign (then it is mandatory).
 */
export function mayStartTransfer(status: DiscretionStatus | undefined, now: number, estimateMs: number, policy: WindowPolicy, firstDeferredAt: number | undefined): Verdict {
  if (!status) return OK;
  const common = commonChecks(status, now, policy, firstDeferredAt);
  if (!common.ok) return common;
  const needed = estimateMs * policy.windowMargin;
  const windowEnd = Math.min(status.idleUntil ?? Infinity, status.awakeUntil ?? Infinity);
  if (windowEnd - now < needed) {
    return { ok: false, reason: `idle window too short: ${Math.max(0, Math.round((windowEnd - now) / 1000))} s left, ${Math.ceil(needed / 1000)} s needed` };
  }
  return OK;
}

/** May a paused transfer go on, or Update run? The device must be idle and reachable. */
export function mayDisturb(status: DiscretionStatus | undefined, now: number, policy: WindowPolicy, firstDeferredAt: number | undefined): Verdict {
  if (!status) return OK;
  return commonChecks(status, now, policy, firstDeferredAt);
}

function commonChecks(status: DiscretionStatus, now: number, policy: WindowPolicy, firstDeferredAt: number | undefined): Verdict {
  if (status.asleep) return { ok: false, reason: 'asleep' };
  if (!status.idle) return { ok: false, reason: `busy${status.busyReason ? `: ${status.busyReason}` : ''}` };
  if (status.idleUntil !== undefined && status.idleUntil <= now) return { ok: false, reason: 'idle window over' };
  if (status.batteryPercent !== undefined && status.batteryPercent < policy.minBatteryPercent && !status.externalPower) {
    return { ok: false, reason: `low battery (${status.batteryPercent}% < ${policy.minBatteryPercent}%, no external power)` };
  }
  if (status.deferredUntil !== undefined && status.deferredUntil > now) {
    const mandatory = firstDeferredAt !== undefined && now - firstDeferredAt >= policy.maxDeferralMs;
    if (!mandatory) return { ok: false, reason: 'deferred by the user' };
  }
  return OK;
}

/** Whether the device is currently deferring (so the scheduler can remember when it first did). */
export function isDeferring(status: DiscretionStatus | undefined, now: number): boolean {
  return status?.deferredUntil !== undefined && status.deferredUntil > now;
}
