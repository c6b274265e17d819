/**
 * The delivery state machine: one pure function from (record, event) to the next record
 * and the commands the driver must carry out. No I/O, no timers: the driver (delivery-
 * service.ts) performs commands, arms the phase timer of each state, and feeds back what
 * the device answered as events. Every edge is unit-tested.
 */
import { chooseMethod, type HostedSchemes } from './method-choice.js';
import { TERMINAL_STATES, type DeliveryMethod, type DeliveryOutcome, type DeliveryRecord, type DeliveryState } from './delivery-record.js';
import type { DeliveryPolicy } from './policy.js';
import { FirmwareState, isFirmwareState, updateResultInfo } from './update-result.js';

/** What the driver read from the device's Object 5. */
export interface DeviceFirmwareStatus {
  state: number;
  result: number;
  /** /5/0/7, or /3/0/3 when the device has no PkgVersion. */
  pkgVersion?: string;
  protocols?: readonly number[];
  deliveryMethod?: number;
  /** /5/0/13 in seconds. */
  maxDeferSec?: number;
}

export type DeliveryEvent =
  | { kind: 'start' }
  | { kind: 'inspected'; status: DeviceFirmwareStatus; hosted?: HostedSchemes }
  | { kind: 'progress'; bytes: number; total: number }
  /** The push write was acknowledged (2.04) or the pull URI was written. */
  | { kind: 'handed-over' }
  /** State/Update Result from a notification or a poll. */
  | { kind: 'device-state'; state: number; result: number }
  | { kind: 'executed' }
  /** The device registered or updated its registration; what it reported right after. */
  | { kind: 'registered'; status: DeviceFirmwareStatus }
  /** A request to the device failed; `retryable` when the device was silent (not when it refused). */
  | { kind: 'request-failed'; operation: string; reason: string; retryable: boolean; outcome?: DeliveryOutcome }
  | { kind: 'timeout' }
  | { kind: 'defer-elapsed' }
  /** The device turned busy: stop moving bytes, keep what was acknowledged. */
  | { kind: 'pause' }
  /** The device is idle again: go on from the acknowledged bytes. */
  | { kind: 'resume' }
  /** The device may reboot now: run Update once (or as soon as) the package is there. */
  | { kind: 'release-update' }
  | { kind: 'cancel'; reason?: string };

export type DeliveryCommand =
  | { kind: 'inspect' }
  /**
   * Start (or restart) the transfer; `resetFirst`: put the device's Object 5 back to Idle before.
   * `resumeFrom`: a paused push goes on from this acknowledged offset (the driver may know a later one).
   */
  | { kind: 'transfer'; method: DeliveryMethod; resetFirst: boolean; resumeFrom?: number }
  /** Stop sending push blocks after the one in flight (pull: the device pauses by itself). */
  | { kind: 'pause-transfer' }
  | { kind: 'execute' }
  | { kind: 'cancel-on-device' }
  | { kind: 'schedule-defer'; delayMs: number }
  /** Terminal: stop watching the device, withdraw the pull URI, cancel timers. */
  | { kind: 'release' };

export interface Transition {
  record: DeliveryRecord;
  commands: DeliveryCommand[];
  /** False when the event did not apply to the state (the record is unchanged). */
  changed: boolean;
}

export function transition(current: DeliveryRecord, event: DeliveryEvent, policy: DeliveryPolicy, now: number): Transition {
  if (TERMINAL_STATES.has(current.state)) return ignored(current);
  if (event.kind === 'cancel') {
    return fail(current, event, now, 'cancelled', event.reason ?? 'cancelled by the operator', [{ kind: 'cancel-on-device' }]);
  }
  switch (current.state) {
    case 'pending':
      return event.kind === 'start' ? move(current, 'inspecting', event, now, {}, [{ kind: 'inspect' }]) : ignored(current);
    case 'inspecting':
      return fromInspecting(current, event, policy, now);
    case 'transferring':
      return fromTransferring(current, event, policy, now);
    case 'paused':
      return fromPaused(current, event, policy, now);
    case 'held':
      return fromHeld(current, event, policy, now);
    case 'downloaded':
      return fromDownloaded(current, event, policy, now);
    case 'updating':
    case 'verifying':
      return fromUpdating(current, event, policy, now);
    case 'deferred':
      return fromDeferred(current, event, policy, now);
    default:
      return ignored(current);
  }
}

function fromInspecting(d: DeliveryRecord, event: DeliveryEvent, policy: DeliveryPolicy, now: number): Transition {
  switch (event.kind) {
    case 'inspected': {
      const { status } = event;
      const nonsense = nonsenseOf(status.state, status.result);
      if (nonsense) return fail(d, event, now, 'bad-device-state', nonsense);
      if (status.state === FirmwareState.updating) return fail(d, event, now, 'bad-device-state', 'the device is already installing an update (State 3)');
      const choice = chooseMethod(d.requestedMethod, { deliveryMethod: status.deliveryMethod, protocols: status.protocols }, event.hosted);
      if ('error' in choice) return fail(d, event, now, 'unsupported-device', choice.error);
      const maxDeferMs = status.maxDeferSec !== undefined && status.maxDeferSec > 0 ? status.maxDeferSec * 1000 : undefined;
      // Reset first unless the device is fresh: one left in Idle with the Result of an earlier
      // attempt (say 5) would report that stale Result during this transfer (an empty Package
      // URI resets State and Result both).
      return move(d, 'transferring', event, now, {
        method: choice.method,
        attempts: d.attempts + 1,
        bytes: 0,
        previousVersion: status.pkgVersion ?? d.previousVersion,
        maxDeferMs,
        deviceState: status.state,
        result: status.result,
      }, [{ kind: 'transfer', method: choice.method, resetFirst: status.state !== FirmwareState.idle || (status.result ?? 0) !== 0 }], `${choice.method}, attempt ${d.attempts + 1}`);
    }
    case 'request-failed':
      return fail(d, event, now, event.outcome ?? 'device-error', `${event.operation}: ${event.reason}`);
    case 'timeout':
      return fail(d, event, now, 'timeout', `the device did not answer the Object 5 reads within ${policy.inspectTimeoutMs} ms`);
    case 'pause':
      // Nothing sent yet: the answer to the reads is dropped and resume reads again.
      return move(d, 'paused', event, now, {}, [], 'before the transfer');
    default:
      return ignored(d);
  }
}

function fromTransferring(d: DeliveryRecord, event: DeliveryEvent, policy: DeliveryPolicy, now: number): Transition {
  switch (event.kind) {
    case 'progress':
      return stay(d, { bytes: event.bytes, total: event.total });
    case 'handed-over':
      return stay(d, d.method === 'push' ? { bytes: d.total } : {});
    case 'device-state':
      return onTransferStatus(d, event, event.state, event.result, policy, now, false);
    case 'registered':
      return onTransferStatus(d, event, event.status.state, event.status.result, policy, now, true);
    case 'request-failed':
      if (!event.retryable) return fail(d, event, now, event.outcome ?? 'device-error', `${event.operation}: ${event.reason}`);
      // The device went silent (power cut, lost link): try again once it is back.
      return stay(d, { retryOnRegistration: true, reason: `${event.operation}: ${event.reason}` });
    case 'timeout':
      return retryOrFail(d, event, policy, now, 'timeout', `no transfer progress for ${policy.transferTimeoutMs} ms`);
    case 'pause':
      return move(d, 'paused', event, now, {}, d.method === 'push' ? [{ kind: 'pause-transfer' }] : [], `at ${d.bytes} of ${d.total} bytes`);
    case 'release-update':
      return d.updateReleased === true ? ignored(d) : stay(d, { updateReleased: true });
    default:
      return ignored(d);
  }
}

/** Paused: no phase timer runs; the device may still report (a pulling device may even finish). */
function fromPaused(d: DeliveryRecord, event: DeliveryEvent, policy: DeliveryPolicy, now: number): Transition {
  switch (event.kind) {
    case 'resume': {
      if (d.method === undefined) return move(d, 'inspecting', event, now, {}, [{ kind: 'inspect' }], 'paused before the transfer');
      // Pull: the device goes on by itself from its last block; push: the server sends the next block.
      const commands: DeliveryCommand[] = d.method === 'push' ? [{ kind: 'transfer', method: 'push', resetFirst: false, resumeFrom: d.bytes }] : [];
      return move(d, 'transferring', event, now, {}, commands, `from ${d.bytes} of ${d.total} bytes`);
    }
    case 'progress':
      // The block that was in flight when the pause came was acknowledged.
      return stay(d, { bytes: event.bytes, total: event.total });
    case 'handed-over':
      return stay(d, d.method === 'push' ? { bytes: d.total } : {});
    case 'device-state':
    case 'registered': {
      const { state, result } = event.kind === 'registered' ? event.status : event;
      if (state === FirmwareState.downloaded || nonsenseOf(state, result) !== undefined) {
        return onTransferStatus(d, event, state, result, policy, now, event.kind === 'registered');
      }
      const info = updateResultInfo(result)!;
      if (state === FirmwareState.idle && (info.handling === 'fail' || info.handling === 'retry-transfer')) {
        return fail(d, event, now, info.outcome, `device reported Update Result ${result}: ${info.description}`, [], { deviceState: state, result });
      }
      return stay(d, { deviceState: state, result });
    }
    case 'request-failed':
      // The last push block went unanswered; resume tries again (from 0 if the device lost it).
      return stay(d, { reason: `${event.operation}: ${event.reason}` });
    case 'release-update':
      return d.updateReleased === true ? ignored(d) : stay(d, { updateReleased: true });
    default:
      return ignored(d);
  }
}

/** Held: the package is on the device; the reboot waits for release-update. No phase timer runs. */
function fromHeld(d: DeliveryRecord, event: DeliveryEvent, policy: DeliveryPolicy, now: number): Transition {
  switch (event.kind) {
    case 'release-update':
      return move(d, 'downloaded', event, now, { updateReleased: true }, [{ kind: 'execute' }]);
    case 'device-state':
    case 'registered': {
      const { state, result } = event.kind === 'registered' ? event.status : event;
      const nonsense = nonsenseOf(state, result);
      if (nonsense) return fail(d, event, now, 'bad-device-state', nonsense);
      const seen = { deviceState: state, result };
      if (state === FirmwareState.downloaded) return stay(d, seen);
      if (state === FirmwareState.updating) return fail(d, event, now, 'bad-device-state', 'the device started installing (State 3) before Update was executed', [], seen);
      const info = updateResultInfo(result)!;
      if (info.handling === 'fail') return fail(d, event, now, info.outcome, `device reported Update Result ${result}: ${info.description}`, [], seen);
      if (state === FirmwareState.idle) return retryOrFail(d, event, policy, now, 'connection-lost', `the device dropped the held package (State 0, Update Result ${result})`, seen);
      return stay(d, seen);
    }
    default:
      return ignored(d);
  }
}

function onTransferStatus(d: DeliveryRecord, event: DeliveryEvent, state: number, result: number, policy: DeliveryPolicy, now: number, registered: boolean): Transition {
  const nonsense = nonsenseOf(state, result);
  if (nonsense) return fail(d, event, now, 'bad-device-state', nonsense);
  const seen = { deviceState: state, result };
  if (state === FirmwareState.downloaded) {
    if (d.holdUpdate === true && d.updateReleased !== true) {
      return move(d, 'held', event, now, { ...seen, bytes: d.total, retryOnRegistration: false }, [], 'Update waits for release');
    }
    return move(d, 'downloaded', event, now, { ...seen, bytes: d.total, retryOnRegistration: false }, [{ kind: 'execute' }]);
  }
  if (state === FirmwareState.updating) return fail(d, event, now, 'bad-device-state', 'the device reported Updating (State 3) before Update was executed');
  if (state === FirmwareState.downloading) return stay(d, seen);
  const info = updateResultInfo(result)!;
  if (info.handling === 'fail') return fail(d, event, now, info.outcome, `device reported Update Result ${result}: ${info.description}`, [], seen);
  if (info.handling === 'retry-transfer') return retryOrFail(d, event, policy, now, info.outcome, `device reported Update Result ${result}: ${info.description}`, seen);
  // Idle with no verdict: the device has not started, or it lost the download in a reboot.
  if (registered && (d.retryOnRegistration || d.method === 'push' || d.deviceState === FirmwareState.downloading)) {
    return retryOrFail(d, event, policy, now, 'connection-lost', 'the device came back without the package', seen);
  }
  return stay(d, seen);
}

function fromDownloaded(d: DeliveryRecord, event: DeliveryEvent, policy: DeliveryPolicy, now: number): Transition {
  switch (event.kind) {
    case 'executed':
      return move(d, 'updating', event, now, {});
    case 'device-state':
    case 'registered': {
      const { state, result } = event.kind === 'registered' ? event.status : event;
      const nonsense = nonsenseOf(state, result);
      if (nonsense) return fail(d, event, now, 'bad-device-state', nonsense);
      const seen = { deviceState: state, result };
      if (state === FirmwareState.updating) return move(d, 'updating', event, now, seen);
      const info = updateResultInfo(result)!;
      // Idle with success: an Update sent before a restart ran (we had not written that
      // down); what it installed is checked as after any Update.
      if (state === FirmwareState.idle && info.handling === 'success') return fromUpdating(d, event, policy, now);
      if (info.handling === 'defer') return defer(d, event, policy, now, seen);
      if (state === FirmwareState.downloaded) {
        // Back from a reboot with the package still there: the Update we sent was lost.
        return event.kind === 'registered' ? stay(d, seen, [{ kind: 'execute' }]) : stay(d, seen);
      }
      if (info.handling === 'fail') return fail(d, event, now, info.outcome, `device reported Update Result ${result}: ${info.description}`, [], seen);
      if (state === FirmwareState.idle) return retryOrFail(d, event, policy, now, 'connection-lost', `the device dropped the package (State 0, Update Result ${result})`, seen);
      return stay(d, seen);
    }
    case 'request-failed':
      // Silent device: its next registration tells us where it stands.
      if (event.retryable) return stay(d, { reason: `${event.operation}: ${event.reason}` });
      return fail(d, event, now, event.outcome ?? 'device-error', `${event.operation}: ${event.reason}`);
    case 'timeout':
      return fail(d, event, now, 'timeout', `the device did not start the update within ${policy.downloadedTimeoutMs} ms`);
    default:
      return ignored(d);
  }
}

function fromUpdating(d: DeliveryRecord, event: DeliveryEvent, policy: DeliveryPolicy, now: number): Transition {
  switch (event.kind) {
    case 'device-state': {
      const nonsense = nonsenseOf(event.state, event.result);
      if (nonsense) return fail(d, event, now, 'bad-device-state', nonsense);
      const seen = { deviceState: event.state, result: event.result };
      const info = updateResultInfo(event.result)!;
      if (info.handling === 'success') return d.state === 'verifying' ? stay(d, seen) : move(d, 'verifying', event, now, seen);
      if (info.handling === 'defer') return defer(d, event, policy, now, seen);
      if (info.handling === 'fail' || info.handling === 'retry-transfer') {
        return fail(d, event, now, info.outcome, `device reported Update Result ${event.result}: ${info.description}`, [], seen);
      }
      return stay(d, seen);
    }
    case 'registered': {
      const { status } = event;
      const nonsense = nonsenseOf(status.state, status.result);
      if (nonsense) return fail(d, event, now, 'bad-device-state', nonsense);
      const seen = { deviceState: status.state, result: status.result };
      const info = updateResultInfo(status.result)!;
      if (info.handling === 'success') {
        if (status.pkgVersion === d.imageVersion) return move(d, 'succeeded', event, now, { ...seen, outcome: 'success', reason: undefined }, [{ kind: 'release' }], `running ${status.pkgVersion}`);
        return fail(d, event, now, 'wrong-version', `device reported success but runs version "${status.pkgVersion ?? '(none)'}", not "${d.imageVersion}"`, [], seen);
      }
      if (info.handling === 'defer') return defer(d, event, policy, now, seen);
      if (info.handling === 'fail' || info.handling === 'retry-transfer') {
        return fail(d, event, now, info.outcome, `device reported Update Result ${status.result}: ${info.description}`, [], seen);
      }
      if (status.state === FirmwareState.downloaded && d.state === 'updating') {
        // Power lost before the install began: the package is still there, run Update again.
        return move(d, 'downloaded', event, now, seen, [{ kind: 'execute' }]);
      }
      if (status.state === FirmwareState.idle && status.pkgVersion !== undefined && status.pkgVersion !== d.imageVersion) {
        return fail(d, event, now, 'wrong-version', `device came back running "${status.pkgVersion}" without a result, not "${d.imageVersion}"`, [], seen);
      }
      return stay(d, seen);
    }
    case 'request-failed':
      return stay(d, {});
    case 'timeout':
      return fail(d, event, now, 'timeout', d.state === 'updating'
        ? `the device did not finish the update within ${policy.updatingTimeoutMs} ms`
        : `the device did not register with the new version within ${policy.verifyingTimeoutMs} ms`);
    default:
      return ignored(d);
  }
}

function fromDeferred(d: DeliveryRecord, event: DeliveryEvent, _policy: DeliveryPolicy, now: number): Transition {
  if (event.kind === 'defer-elapsed') return move(d, 'downloaded', event, now, {}, [{ kind: 'execute' }]);
  if (event.kind === 'device-state' || event.kind === 'registered') {
    const { state, result } = event.kind === 'registered' ? event.status : event;
    const nonsense = nonsenseOf(state, result);
    if (nonsense) return fail(d, event, now, 'bad-device-state', nonsense);
    if (state === FirmwareState.idle) {
      const info = updateResultInfo(result)!;
      if (info.handling === 'fail' || info.handling === 'retry-transfer') {
        return fail(d, event, now, info.outcome, `device reported Update Result ${result}: ${info.description}`);
      }
    }
    return stay(d, { deviceState: state, result });
  }
  return ignored(d);
}

function defer(d: DeliveryRecord, event: DeliveryEvent, policy: DeliveryPolicy, now: number, seen: Partial<DeliveryRecord>): Transition {
  const deferrals = d.deferrals + 1;
  if (deferrals > policy.maxDeferrals) return fail(d, event, now, 'deferred', `the user deferred the update ${deferrals} times (limit ${policy.maxDeferrals})`, [], seen);
  const delayMs = d.maxDeferMs ?? policy.defaultDeferMs;
  return move(d, 'deferred', event, now, { ...seen, deferrals }, [{ kind: 'schedule-defer', delayMs }], `retry in ${delayMs} ms`);
}

function retryOrFail(d: DeliveryRecord, event: DeliveryEvent, policy: DeliveryPolicy, now: number, outcome: DeliveryOutcome, reason: string, seen: Partial<DeliveryRecord> = {}): Transition {
  if (d.attempts >= policy.maxAttempts) return fail(d, event, now, outcome, `${reason} (after ${d.attempts} attempts)`, [], seen);
  const method = d.method as DeliveryMethod;
  const next = { ...seen, attempts: d.attempts + 1, bytes: 0, retryOnRegistration: false, reason };
  return move(d, 'transferring', event, now, next, [{ kind: 'transfer', method, resetFirst: true }], `${reason}; attempt ${d.attempts + 1}`);
}

/** Why a reported State/Update Result pair makes no sense, or undefined. */
function nonsenseOf(state: number, result: number): string | undefined {
  if (!isFirmwareState(state)) return `device reported an impossible State ${String(state)} (0–3 exist)`;
  if (updateResultInfo(result) === undefined) return `device reported an impossible Update Result ${String(result)} (0–11 exist)`;
  return undefined;
}

function ignored(d: DeliveryRecord): Transition {
  return { record: d, commands: [], changed: false };
}

function stay(d: DeliveryRecord, changes: Partial<DeliveryRecord>, commands: DeliveryCommand[] = []): Transition {
  return { record: { ...d, ...changes }, commands, changed: true };
}

function move(
  d: DeliveryRecord,
  to: DeliveryState,
  event: DeliveryEvent,
  now: number,
  changes: Partial<DeliveryRecord>,
  commands: DeliveryCommand[] = [],
  detail?: string,
): Transition {
  const entry = { at: now, from: d.state, to, event: event.kind, ...(detail !== undefined ? { detail } : {}) };
  return {
    record: { ...d, ...changes, state: to, stateSince: now, updatedAt: now, history: [...d.history, entry] },
    commands,
    changed: true,
  };
}

function fail(
  d: DeliveryRecord,
  event: DeliveryEvent,
  now: number,
  outcome: DeliveryOutcome,
  reason: string,
  commands: DeliveryCommand[] = [],
  seen: Partial<DeliveryRecord> = {},
): Transition {
  return move(d, 'failed', event, now, { ...seen, outcome, reason, retryOnRegistration: false }, [...commands, { kind: 'release' }], reason);
}
