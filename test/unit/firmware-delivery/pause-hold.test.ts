/** The pause/resume and update-hold edges of the delivery state machine, through its one transition function. */
import { describe, expect, it } from 'vitest';
import { transition, type DeliveryEvent } from '../../../src/firmware/delivery/state-machine.js';
import { DEFAULT_POLICY, phaseTimeoutMs } from '../../../src/firmware/delivery/policy.js';
import type { DeliveryRecord, DeliveryState } from '../../../src/firmware/delivery/delivery-record.js';
import { deliveryRecord } from './records.js';

const policy = { ...DEFAULT_POLICY, maxAttempts: 2 };
const NOW = 2_000_000;

const record = (state: DeliveryState, changes: Partial<DeliveryRecord> = {}): DeliveryRecord =>
  deliveryRecord(state, { method: 'push', bytes: 4096, total: 10_000, ...changes });

const run = (r: DeliveryRecord, e: DeliveryEvent) => transition(r, e, policy, NOW);

interface Edge {
  name: string;
  from: DeliveryRecord;
  event: DeliveryEvent;
  to: DeliveryState;
  commands: string[];
  outcome?: string;
}

const edges: Edge[] = [
  { name: 'transferring (push) → paused stops the push', from: record('transferring'), event: { kind: 'pause' }, to: 'paused', commands: ['pause-transfer'] },
  { name: 'transferring (pull) → paused: the device stops by itself, nothing sent', from: record('transferring', { method: 'pull' }), event: { kind: 'pause' }, to: 'paused', commands: [] },
  { name: 'inspecting → paused: nothing sent yet', from: record('inspecting', { method: undefined }), event: { kind: 'pause' }, to: 'paused', commands: [] },
  { name: 'paused before the transfer → inspecting reads again on resume', from: record('paused', { method: undefined }), event: { kind: 'resume' }, to: 'inspecting', commands: ['inspect'] },
  { name: 'paused before the transfer: a late inspection answer is dropped', from: record('paused', { method: undefined }), event: { kind: 'inspected', status: { state: 0, result: 0 } }, to: 'paused', commands: [] },
  { name: 'paused (push) → transferring resumes the push', from: record('paused'), event: { kind: 'resume' }, to: 'transferring', commands: ['transfer'] },
  { name: 'paused (pull) → transferring: the device goes on by itself', from: record('paused', { method: 'pull' }), event: { kind: 'resume' }, to: 'transferring', commands: [] },
  { name: 'paused: the block in flight was acknowledged', from: record('paused'), event: { kind: 'progress', bytes: 5120, total: 10_000 }, to: 'paused', commands: [] },
  { name: 'paused: the last block was acknowledged', from: record('paused'), event: { kind: 'handed-over' }, to: 'paused', commands: [] },
  { name: 'paused: downloading stays', from: record('paused'), event: { kind: 'device-state', state: 1, result: 0 }, to: 'paused', commands: [] },
  { name: 'paused → downloaded when the package is complete anyway', from: record('paused'), event: { kind: 'device-state', state: 2, result: 0 }, to: 'downloaded', commands: ['execute'] },
  { name: 'paused → held when complete and the update is held', from: record('paused', { holdUpdate: true }), event: { kind: 'device-state', state: 2, result: 0 }, to: 'held', commands: [] },
  { name: 'paused → failed on a failure result', from: record('paused'), event: { kind: 'device-state', state: 0, result: 5 }, to: 'failed', commands: ['release'], outcome: 'integrity-failure' },
  { name: 'paused → failed on an impossible state', from: record('paused'), event: { kind: 'registered', status: { state: 7, result: 0 } }, to: 'failed', commands: ['release'], outcome: 'bad-device-state' },
  { name: 'paused: a push block that went unanswered waits for resume', from: record('paused'), event: { kind: 'request-failed', operation: 'push', reason: 'timeout', retryable: true }, to: 'paused', commands: [] },
  { name: 'paused: a timer firing late is ignored', from: record('paused'), event: { kind: 'timeout' }, to: 'paused', commands: [] },
  { name: 'paused: pause again is ignored', from: record('paused'), event: { kind: 'pause' }, to: 'paused', commands: [] },
  { name: 'paused → failed on cancel', from: record('paused'), event: { kind: 'cancel' }, to: 'failed', commands: ['cancel-on-device', 'release'], outcome: 'cancelled' },
  { name: 'transferring: resume is ignored', from: record('transferring'), event: { kind: 'resume' }, to: 'transferring', commands: [] },
  { name: 'transferring → held (not downloaded) with holdUpdate', from: record('transferring', { holdUpdate: true, updateReleased: false }), event: { kind: 'device-state', state: 2, result: 0 }, to: 'held', commands: [] },
  { name: 'transferring → downloaded when released before the download ended', from: record('transferring', { holdUpdate: true, updateReleased: true }), event: { kind: 'device-state', state: 2, result: 0 }, to: 'downloaded', commands: ['execute'] },
  { name: 'held → downloaded executes Update on release', from: record('held', { holdUpdate: true }), event: { kind: 'release-update' }, to: 'downloaded', commands: ['execute'] },
  { name: 'held: the package still there stays', from: record('held', { holdUpdate: true }), event: { kind: 'registered', status: { state: 2, result: 0 } }, to: 'held', commands: [] },
  { name: 'held → transferring when the device dropped the package', from: record('held', { holdUpdate: true }), event: { kind: 'registered', status: { state: 0, result: 0 } }, to: 'transferring', commands: ['transfer'] },
  { name: 'held → failed when the device dropped it after the last attempt', from: record('held', { holdUpdate: true, attempts: 2 }), event: { kind: 'device-state', state: 0, result: 4 }, to: 'failed', commands: ['release'], outcome: 'connection-lost' },
  { name: 'held → failed on a failure result', from: record('held', { holdUpdate: true }), event: { kind: 'device-state', state: 0, result: 6 }, to: 'failed', commands: ['release'], outcome: 'unsupported-package' },
  { name: 'held → failed when the device installs unasked', from: record('held', { holdUpdate: true }), event: { kind: 'device-state', state: 3, result: 0 }, to: 'failed', commands: ['release'], outcome: 'bad-device-state' },
  { name: 'held: a timer firing late is ignored', from: record('held', { holdUpdate: true }), event: { kind: 'timeout' }, to: 'held', commands: [] },
  { name: 'held: pause is ignored', from: record('held', { holdUpdate: true }), event: { kind: 'pause' }, to: 'held', commands: [] },
  { name: 'held → failed on cancel', from: record('held', { holdUpdate: true }), event: { kind: 'cancel' }, to: 'failed', commands: ['cancel-on-device', 'release'], outcome: 'cancelled' },
  { name: 'downloaded: release is ignored (Update already runs)', from: record('downloaded'), event: { kind: 'release-update' }, to: 'downloaded', commands: [] },
];

describe('pause, resume and held Update', () => {
  it.each(edges)('$name', (edge) => {
    const { record: next, commands, changed } = run(edge.from, edge.event);
    expect(next.state).toBe(edge.to);
    expect(commands.map((c) => c.kind)).toEqual(edge.commands);
    if (edge.outcome !== undefined) expect(next.outcome).toBe(edge.outcome);
    if (edge.to !== edge.from.state) {
      expect(next.history.at(-1)).toMatchObject({ at: NOW, from: edge.from.state, to: edge.to, event: edge.event.kind });
      expect(next.stateSince).toBe(NOW);
    } else if (edge.commands.length === 0 && edge.event.kind !== 'progress' && edge.event.kind !== 'handed-over' && edge.event.kind !== 'device-state' && edge.event.kind !== 'registered' && edge.event.kind !== 'request-failed') {
      expect(changed).toBe(false);
    }
  });

  it('resumes a push from the acknowledged offset, and keeps it across the in-flight block', () => {
    const paused = run(record('transferring', { bytes: 3072 }), { kind: 'pause' }).record;
    const acked = run(paused, { kind: 'progress', bytes: 4096, total: 10_000 }).record;
    expect(acked.bytes).toBe(4096);
    expect(run(acked, { kind: 'resume' }).commands).toEqual([{ kind: 'transfer', method: 'push', resetFirst: false, resumeFrom: 4096 }]);
  });

  it('remembers a release that came during the transfer, while paused too', () => {
    const released = run(record('transferring', { holdUpdate: true, updateReleased: false }), { kind: 'release-update' });
    expect([released.record.state, released.record.updateReleased, released.commands]).toEqual(['transferring', true, []]);
    const whilePaused = run(record('paused', { holdUpdate: true, updateReleased: false }), { kind: 'release-update' });
    expect([whilePaused.record.state, whilePaused.record.updateReleased]).toEqual(['paused', true]);
  });

  it('runs no phase timer while paused or held', () => {
    expect(phaseTimeoutMs(policy, 'paused')).toBeUndefined();
    expect(phaseTimeoutMs(policy, 'held')).toBeUndefined();
    expect(phaseTimeoutMs(policy, 'transferring')).toBe(policy.transferTimeoutMs);
  });
});
