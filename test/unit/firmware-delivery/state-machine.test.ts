/** Every edge of the delivery state machine, through its one transition function. */
import { describe, expect, it } from 'vitest';
import { transition, type DeliveryEvent } from '../../../src/firmware/delivery/state-machine.js';
import { DEFAULT_POLICY } from '../../../src/firmware/delivery/policy.js';
import type { DeliveryRecord, DeliveryState } from '../../../src/firmware/delivery/delivery-record.js';
import { deliveryRecord } from './records.js';
import { chooseMethod } from '../../../src/firmware/delivery/method-choice.js';
import { updateResultInfo } from '../../../src/firmware/delivery/update-result.js';

const policy = { ...DEFAULT_POLICY, maxAttempts: 2, maxDeferrals: 1, defaultDeferMs: 5000 };
const NOW = 1_000_000;

const record = deliveryRecord;

const status = (state: number, result: number, extra: Record<string, unknown> = {}) => ({ state, result, ...extra });
const run = (r: DeliveryRecord, e: DeliveryEvent) => transition(r, e, policy, NOW);

interface Edge {
  name: string;
  from: DeliveryRecord;
  event: DeliveryEvent;
  to: DeliveryState;
  commands: string[];
  outcome?: string;
  /** A retry re-enters its state: a history entry, the phase timer restarted. */
  reenters?: boolean;
}

const edges: Edge[] = [
  { name: 'pending → inspecting on start', from: record('pending', { attempts: 0 }), event: { kind: 'start' }, to: 'inspecting', commands: ['inspect'] },
  { name: 'pending ignores a device state', from: record('pending'), event: { kind: 'device-state', state: 0, result: 0 }, to: 'pending', commands: [] },
  { name: 'inspecting → transferring (pull chosen)', from: record('inspecting', { attempts: 0 }), event: { kind: 'inspected', status: status(0, 0, { deliveryMethod: 2, protocols: [0] }) }, to: 'transferring', commands: ['transfer'] },
  { name: 'inspecting → failed: device already updating', from: record('inspecting'), event: { kind: 'inspected', status: status(3, 0) }, to: 'failed', commands: ['release'], outcome: 'bad-device-state' },
  { name: 'inspecting → failed: nonsense state', from: record('inspecting'), event: { kind: 'inspected', status: status(9, 0) }, to: 'failed', commands: ['release'], outcome: 'bad-device-state' },
  { name: 'inspecting → failed: no usable method', from: record('inspecting', { requestedMethod: 'push' }), event: { kind: 'inspected', status: status(0, 0, { deliveryMethod: 0 }) }, to: 'failed', commands: ['release'], outcome: 'unsupported-device' },
  { name: 'inspecting → failed: read failed', from: record('inspecting'), event: { kind: 'request-failed', operation: 'read', reason: '4.04', retryable: false, outcome: 'unsupported-device' }, to: 'failed', commands: ['release'], outcome: 'unsupported-device' },
  { name: 'inspecting → failed: timeout', from: record('inspecting'), event: { kind: 'timeout' }, to: 'failed', commands: ['release'], outcome: 'timeout' },
  { name: 'transferring: progress stays', from: record('transferring'), event: { kind: 'progress', bytes: 50, total: 100 }, to: 'transferring', commands: [] },
  { name: 'transferring: handed over stays', from: record('transferring'), event: { kind: 'handed-over' }, to: 'transferring', commands: [] },
  { name: 'transferring: downloading stays', from: record('transferring'), event: { kind: 'device-state', state: 1, result: 0 }, to: 'transferring', commands: [] },
  { name: 'transferring → downloaded executes Update', from: record('transferring'), event: { kind: 'device-state', state: 2, result: 0 }, to: 'downloaded', commands: ['execute'] },
  { name: 'transferring → failed on a failure result', from: record('transferring'), event: { kind: 'device-state', state: 0, result: 5 }, to: 'failed', commands: ['release'], outcome: 'integrity-failure' },
  { name: 'transferring → transferring retry on connection lost', from: record('transferring', { attempts: 1 }), event: { kind: 'device-state', state: 0, result: 4 }, to: 'transferring', commands: ['transfer'], reenters: true },
  { name: 'transferring → failed on connection lost after the last attempt', from: record('transferring', { attempts: 2 }), event: { kind: 'device-state', state: 0, result: 4 }, to: 'failed', commands: ['release'], outcome: 'connection-lost' },
  { name: 'transferring → failed on Updating before Update', from: record('transferring'), event: { kind: 'device-state', state: 3, result: 0 }, to: 'failed', commands: ['release'], outcome: 'bad-device-state' },
  { name: 'transferring → failed on an impossible result', from: record('transferring'), event: { kind: 'device-state', state: 0, result: 42 }, to: 'failed', commands: ['release'], outcome: 'bad-device-state' },
  { name: 'transferring: a silent device waits for its registration', from: record('transferring', { method: 'push' }), event: { kind: 'request-failed', operation: 'push', reason: 'timeout', retryable: true }, to: 'transferring', commands: [] },
  { name: 'transferring → failed when the device refuses', from: record('transferring'), event: { kind: 'request-failed', operation: 'push', reason: '4.00', retryable: false }, to: 'failed', commands: ['release'], outcome: 'device-error' },
  { name: 'transferring → retry on timeout', from: record('transferring', { attempts: 1 }), event: { kind: 'timeout' }, to: 'transferring', commands: ['transfer'], reenters: true },
  { name: 'transferring → retry when a push device comes back idle', from: record('transferring', { method: 'push', retryOnRegistration: true }), event: { kind: 'registered', status: status(0, 0) }, to: 'transferring', commands: ['transfer'], reenters: true },
  { name: 'transferring → downloaded when the device comes back with the package', from: record('transferring'), event: { kind: 'registered', status: status(2, 0) }, to: 'downloaded', commands: ['execute'] },
  { name: 'downloaded → updating when executed', from: record('downloaded'), event: { kind: 'executed' }, to: 'updating', commands: [] },
  { name: 'downloaded → updating on State 3', from: record('downloaded'), event: { kind: 'device-state', state: 3, result: 0 }, to: 'updating', commands: [] },
  { name: 'downloaded → deferred on result 11', from: record('downloaded'), event: { kind: 'device-state', state: 2, result: 11 }, to: 'deferred', commands: ['schedule-defer'] },
  { name: 'downloaded → failed on result 11 past the limit', from: record('downloaded', { deferrals: 1 }), event: { kind: 'device-state', state: 2, result: 11 }, to: 'failed', commands: ['release'], outcome: 'deferred' },
  { name: 'downloaded → succeeded when an Update sent before a restart ran (registered, new version)', from: record('downloaded'), event: { kind: 'registered', status: status(0, 1, { pkgVersion: '2.0' }) }, to: 'succeeded', commands: ['release'], outcome: 'success' },
  { name: 'downloaded → failed when that Update installed another version', from: record('downloaded'), event: { kind: 'registered', status: status(0, 1, { pkgVersion: '1.0' }) }, to: 'failed', commands: ['release'], outcome: 'wrong-version' },
  { name: 'downloaded → verifying on Update Result 1 (the registration confirms)', from: record('downloaded'), event: { kind: 'device-state', state: 0, result: 1 }, to: 'verifying', commands: [] },
  { name: 'downloaded: re-registered with the package executes again', from: record('downloaded'), event: { kind: 'registered', status: status(2, 0) }, to: 'downloaded', commands: ['execute'] },
  { name: 'downloaded → failed on a failure result', from: record('downloaded'), event: { kind: 'device-state', state: 0, result: 2 }, to: 'failed', commands: ['release'], outcome: 'not-enough-flash' },
  { name: 'downloaded → transferring when the package was dropped', from: record('downloaded', { attempts: 1 }), event: { kind: 'registered', status: status(0, 0) }, to: 'transferring', commands: ['transfer'] },
  { name: 'downloaded: a silent device is waited for', from: record('downloaded'), event: { kind: 'request-failed', operation: 'execute', reason: 'timeout', retryable: true }, to: 'downloaded', commands: [] },
  { name: 'downloaded → failed when Update is refused', from: record('downloaded'), event: { kind: 'request-failed', operation: 'execute', reason: '4.05', retryable: false }, to: 'failed', commands: ['release'], outcome: 'device-error' },
  { name: 'downloaded → failed on timeout', from: record('downloaded'), event: { kind: 'timeout' }, to: 'failed', commands: ['release'], outcome: 'timeout' },
  { name: 'updating: State 3 stays', from: record('updating'), event: { kind: 'device-state', state: 3, result: 0 }, to: 'updating', commands: [] },
  { name: 'updating → verifying on result 1', from: record('updating'), event: { kind: 'device-state', state: 0, result: 1 }, to: 'verifying', commands: [] },
  { name: 'updating → failed on result 8', from: record('updating'), event: { kind: 'device-state', state: 0, result: 8 }, to: 'failed', commands: ['release'], outcome: 'update-failed' },
  { name: 'updating → deferred on result 11', from: record('updating'), event: { kind: 'device-state', state: 2, result: 11 }, to: 'deferred', commands: ['schedule-defer'] },
  { name: 'updating → succeeded on registration with the new version', from: record('updating'), event: { kind: 'registered', status: status(0, 1, { pkgVersion: '2.0' }) }, to: 'succeeded', commands: ['release'], outcome: 'success' },
  { name: 'updating → failed: success claimed, old version running', from: record('updating'), event: { kind: 'registered', status: status(0, 1, { pkgVersion: '1.0' }) }, to: 'failed', commands: ['release'], outcome: 'wrong-version' },
  { name: 'updating → failed: back on the old version without a result', from: record('updating'), event: { kind: 'registered', status: status(0, 0, { pkgVersion: '1.0' }) }, to: 'failed', commands: ['release'], outcome: 'wrong-version' },
  { name: 'updating → downloaded: power lost before the install', from: record('updating'), event: { kind: 'registered', status: status(2, 0) }, to: 'downloaded', commands: ['execute'] },
  { name: 'updating: reads failing while it reboots are ignored', from: record('updating'), event: { kind: 'request-failed', operation: 'read', reason: 'timeout', retryable: true }, to: 'updating', commands: [] },
  { name: 'updating → failed on timeout', from: record('updating'), event: { kind: 'timeout' }, to: 'failed', commands: ['release'], outcome: 'timeout' },
  { name: 'verifying → succeeded on registration', from: record('verifying'), event: { kind: 'registered', status: status(0, 1, { pkgVersion: '2.0' }) }, to: 'succeeded', commands: ['release'], outcome: 'success' },
  { name: 'verifying: result 1 again stays', from: record('verifying'), event: { kind: 'device-state', state: 0, result: 1 }, to: 'verifying', commands: [] },
  { name: 'verifying → failed on timeout', from: record('verifying'), event: { kind: 'timeout' }, to: 'failed', commands: ['release'], outcome: 'timeout' },
  { name: 'deferred → downloaded when the defer period ends', from: record('deferred'), event: { kind: 'defer-elapsed' }, to: 'downloaded', commands: ['execute'] },
  { name: 'deferred: device state stays', from: record('deferred'), event: { kind: 'device-state', state: 2, result: 11 }, to: 'deferred', commands: [] },
  { name: 'deferred → failed when the device drops the package', from: record('deferred'), event: { kind: 'device-state', state: 0, result: 5 }, to: 'failed', commands: ['release'], outcome: 'integrity-failure' },
  { name: 'any unfinished state → failed on cancel', from: record('transferring'), event: { kind: 'cancel' }, to: 'failed', commands: ['cancel-on-device', 'release'], outcome: 'cancelled' },
  { name: 'terminal states ignore everything', from: record('succeeded'), event: { kind: 'cancel' }, to: 'succeeded', commands: [] },
];

describe('delivery state machine', () => {
  it.each(edges)('$name', (edge) => {
    const { record: next, commands } = run(edge.from, edge.event);
    expect(next.state).toBe(edge.to);
    expect(commands.map((c) => c.kind)).toEqual(edge.commands);
    if (edge.outcome !== undefined) expect(next.outcome).toBe(edge.outcome);
    if (edge.to !== edge.from.state || edge.reenters) {
      expect(next.history.at(-1)).toMatchObject({ at: NOW, from: edge.from.state, to: edge.to, event: edge.event.kind });
      expect(next.stateSince).toBe(NOW);
    } else {
      expect(next.history).toEqual(edge.from.history);
    }
  });

  it('resets a device first unless it is Idle with the initial Result: a stale Result 5 must not end the new delivery', () => {
    const fresh = run(record('inspecting', { requestedMethod: 'push' }), { kind: 'inspected', status: status(0, 0) });
    expect(fresh.commands).toEqual([{ kind: 'transfer', method: 'push', resetFirst: false }]);
    const afterFailure = run(record('inspecting', { requestedMethod: 'push' }), { kind: 'inspected', status: status(0, 5) });
    expect(afterFailure.commands).toEqual([{ kind: 'transfer', method: 'push', resetFirst: true }]);
    const afterSuccess = run(record('inspecting', { requestedMethod: 'push' }), { kind: 'inspected', status: status(0, 1) });
    expect(afterSuccess.commands).toEqual([{ kind: 'transfer', method: 'push', resetFirst: true }]);
  });

  it('counts attempts, keeps the chosen method and the defer period', () => {
    const inspected = run(record('inspecting', { attempts: 0, requestedMethod: 'push' }), { kind: 'inspected', status: status(2, 0, { maxDeferSec: 30, pkgVersion: '1.0' }) });
    expect(inspected.record).toMatchObject({ attempts: 1, method: 'push', maxDeferMs: 30_000, previousVersion: '1.0' });
    expect(inspected.commands).toEqual([{ kind: 'transfer', method: 'push', resetFirst: true }]);
    const deferred = run(record('downloaded', { maxDeferMs: 30_000 }), { kind: 'device-state', state: 2, result: 11 });
    expect(deferred.commands).toEqual([{ kind: 'schedule-defer', delayMs: 30_000 }]);
    expect(deferred.record.deferrals).toBe(1);
    const fallback = run(record('downloaded'), { kind: 'device-state', state: 2, result: 11 });
    expect(fallback.commands).toEqual([{ kind: 'schedule-defer', delayMs: 5000 }]);
  });

  it('maps every Update Result code in every phase where the device can report it', () => {
    const expected: Record<number, [DeliveryState, string | undefined]> = {
      0: ['updating', undefined], 1: ['verifying', undefined], 2: ['failed', 'not-enough-flash'], 3: ['failed', 'out-of-ram'],
      4: ['failed', 'connection-lost'], 5: ['failed', 'integrity-failure'], 6: ['failed', 'unsupported-package'], 7: ['failed', 'invalid-uri'],
      8: ['failed', 'update-failed'], 9: ['failed', 'unsupported-protocol'], 10: ['failed', 'cancelled'], 11: ['deferred', undefined],
    };
    for (let code = 0; code <= 11; code++) {
      const next = run(record('updating'), { kind: 'device-state', state: code === 11 ? 2 : code === 0 ? 3 : 0, result: code }).record;
      expect([code, next.state, next.outcome]).toEqual([code, ...expected[code]]);
    }
    expect(updateResultInfo(12)).toBeUndefined();
    expect(updateResultInfo(-1)).toBeUndefined();
  });
});

describe('push or pull', () => {
  it('follows the device: auto prefers pull, push-only and pull-only devices, forced methods', () => {
    expect(chooseMethod('auto', { deliveryMethod: 2, protocols: [0, 1] })).toEqual({ method: 'pull' });
    expect(chooseMethod('auto', { deliveryMethod: 1, protocols: [0] })).toEqual({ method: 'push' });
    expect(chooseMethod('auto', { deliveryMethod: 2, protocols: [2] })).toEqual({ method: 'push' });
    expect(chooseMethod('auto', { deliveryMethod: undefined, protocols: undefined })).toEqual({ method: 'pull' });
    expect(chooseMethod('push', { deliveryMethod: 0, protocols: [0] })).toHaveProperty('error');
    expect(chooseMethod('pull', { deliveryMethod: 1, protocols: [0] })).toHaveProperty('error');
    expect(chooseMethod('pull', { deliveryMethod: 2, protocols: [1] })).toHaveProperty('error');
    expect(chooseMethod('pull', { deliveryMethod: 2, protocols: [1] }, { coap: false, coaps: true })).toEqual({ method: 'pull' });
    expect(chooseMethod('auto', { deliveryMethod: 0, protocols: [3] })).toHaveProperty('error');
  });
});
