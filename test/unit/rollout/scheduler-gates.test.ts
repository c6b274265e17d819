import { describe, expect, it } from 'vitest';
import type { RolloutEvent } from '../../../src/rollout/events.js';
import type { CampaignRuntime } from '../../../src/rollout/campaign-runtime.js';
import { harness } from './harness.js';

const plan = { stages: [{ name: 's1', count: 10, soakSec: 600 }, { name: 's2', count: 40, soakSec: 600 }, { name: 's3', remaining: true, soakSec: 0 }] };
const gates = { maxFailureRate: 0.1, minFinished: 10, maxReverted: 100 };

function membersOf(c: CampaignRuntime, stage: number): string[] {
  return c.endpointList().filter((_, i) => c.stageOf[i] === stage);
}

describe('health gates', () => {
  it('failures in stage 2 halt with the reason and the devices; resume continues', async () => {
    let failing = new Set<string>();
    const h = harness({ devices: 100, driver: { outcome: (ep) => (failing.has(ep) ? { kind: 'fail', reason: 'integrity check failed' } : { kind: 'success' }) } });
    const events: RolloutEvent[] = [];
    h.scheduler.events.on((e) => events.push(e));
    const c = await h.scheduler.create(h.spec({ plan, gates }));
    failing = new Set(membersOf(c, 1).slice(0, 20));
    await h.scheduler.startCampaign(c.id);
    await h.run(3 * 3600_000, 10_000, () => c.state === 'halted');
    expect(c.state).toBe('halted');
    expect(c.doc.haltReason).toMatch(/^failure rate \d+\.\d% \(\d+ of \d+ finished\) in stage "s2" is above 10\.0%$/);
    expect(c.doc.haltDevices!.length).toBeGreaterThan(0);
    expect(c.doc.haltDevices!.every((ep) => failing.has(ep))).toBe(true);
    expect(events.find((e) => e.type === 'halted')).toMatchObject({ stage: 1, devices: c.doc.haltDevices });
    expect((await h.store.campaigns.get(c.id))?.status).toBe('halted');

    // Halted: nothing advances, however long we wait.
    const stage3 = membersOf(c, 2);
    await h.run(3600_000, 60_000);
    expect(c.state).toBe('halted');
    expect(stage3.every((ep) => !h.driver.records.has(ep))).toBe(true);

    failing = new Set();
    await h.scheduler.resume(c.id);
    await h.run(6 * 3600_000, 60_000, () => c.state === 'completed');
    expect(c.state).toBe('completed');
    expect(c.count(1, 'failed')).toBe(20);
    expect(c.count(2, 'succeeded')).toBe(50);
    const audit = await h.store.audit.list({ subject: c.id });
    expect(audit.map((a) => a.action)).toEqual(['campaign.create', 'campaign.start', 'campaign.halt', 'campaign.resume', 'campaign.complete']);
  });

  it('too many reverted devices halt the canary', async () => {
    const h = harness({ devices: 30, driver: { outcome: (ep) => (ep === 'dev-00003' ? { kind: 'revert' } : { kind: 'success' }) } });
    const c = await h.scheduler.create(h.spec({ plan: { canary: { endpoints: ['dev-00003', 'dev-00004'] }, stages: [{ remaining: true }] } }));
    await h.scheduler.startCampaign(c.id);
    await h.run(600_000, 5_000, () => c.state === 'halted');
    expect(c.state).toBe('halted');
    expect(c.doc.haltReason).toBe('1 device(s) reverted in stage "canary" (at most 0 allowed)');
    expect(c.doc.haltDevices).toEqual(['dev-00003']);
    expect(c.count(1, 'pending') + c.count(1, 'planned')).toBe(28);
  });

  it('abort cancels the transfers in flight and nothing starts again', async () => {
    const h = harness({ devices: 30, driver: { linkBytesPerSec: () => 100 } });
    const c = await h.scheduler.create(h.spec({ plan: { stages: [{ remaining: true }] }, limits: { maxConcurrent: 5 } }));
    await h.scheduler.startCampaign(c.id);
    await h.run(10_000, 1000);
    expect(h.driver.activeTransfers).toBe(5);
    const inflight = [...c.inflight].map((i) => c.endpoint(i));
    await h.scheduler.abort(c.id);
    expect(c.state).toBe('aborted');
    expect(h.driver.activeTransfers).toBe(0);
    for (const ep of inflight) expect(h.driver.records.get(ep)?.cancelled).toBe(1);
    await h.run(60_000, 1000);
    expect(h.driver.records.size).toBe(5);
    const rows = await h.store.campaigns.listDeviceStates(c.id);
    expect(rows.every((r) => r.phase === 'cancelled')).toBe(true);
    expect(rows.find((r) => r.endpoint === inflight[0])?.data.reason).toBe('aborted by the operator');
  });

  it('timeouts count as failures by policy', async () => {
    const h = harness({ devices: 12, driver: { linkBytesPerSec: (ep) => (ep < 'dev-00006' ? 1 : 10_000) } });
    const spec = h.spec({ plan: { stages: [{ remaining: true }] }, gates: { maxFailureRate: 0.2, minFinished: 10 }, policy: { deviceTimeoutSec: 120 } });
    const c = await h.scheduler.create(spec);
    await h.scheduler.startCampaign(c.id);
    await h.run(600_000, 5_000, () => c.state === 'halted');
    expect(c.state).toBe('halted');
    expect(c.count(0, 'failed')).toBe(6);
    expect(c.detail(c.indexOf('dev-00000')!).reason).toMatch(/^timeout: no complete transfer within 120 s/);

    const lenient = harness({ devices: 12, driver: { linkBytesPerSec: (ep) => (ep < 'dev-00006' ? 1 : 10_000) } });
    const c2 = await lenient.scheduler.create(lenient.spec({ ...spec, plan: { stages: [{ remaining: true, soakSec: 0 }] }, gates: { maxFailureRate: 0.2, minFinished: 10 }, policy: { deviceTimeoutSec: 120, timeoutCountsAsFailure: false } }));
    await lenient.scheduler.startCampaign(c2.id);
    await lenient.run(600_000, 5_000, () => c2.state === 'completed');
    expect(c2.state).toBe('completed');
  });
});
