import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';
import { RolloutScheduler } from '../../../src/rollout/scheduler.js';
import type { DeliveryDriver } from '../../../src/rollout/driver.js';
import { CampaignConflictError } from '../../../src/rollout/scheduler.js';
import { DAY, harness } from './harness.js';

const plan = { stages: [{ count: 10, soakSec: 600 }, { count: 30, soakSec: 600 }, { remaining: true, soakSec: 0 }] };

describe('restart (same store, same devices)', () => {
  it('continues after a stop at random moments: same stages, every device updated exactly once', async () => {
    const store = new MemoryStore();
    const h = harness({ devices: 80, store, driver: { linkBytesPerSec: () => 2000 } });
    let scheduler = h.scheduler;
    const created = await scheduler.create(h.spec({ plan, limits: { maxConcurrent: 7 } }));
    const id = created.id;
    const sizes = created.doc.stages.map((s) => s.size);
    const members = created.endpointList().map((ep, i) => [ep, created.stageOf[i]]);
    await scheduler.startCampaign(id);
    const random = ((seed) => () => ((seed = (seed * 16807) % 2147483647) / 2147483647))(11);
    for (let restart = 0; restart < 12; restart++) {
      const ticks = 1 + Math.floor(random() * 25);
      for (let t = 0; t < ticks; t++) {
        h.clock.advance(5000);
        h.driver.step();
        await scheduler.tick();
      }
      await scheduler.close();
      scheduler = new RolloutScheduler({ store: store.campaigns, audit: store.audit, driver: h.driver, inventory: h.inventory, discretion: h.discretion, clock: h.clock, defaultThroughputBytesPerSec: 2000 });
      await scheduler.load();
      const c = scheduler.get(id)!;
      expect(c.doc.stages.map((s) => s.size)).toEqual(sizes);
      expect(c.endpointList().map((ep) => [ep, c.stageOf[c.indexOf(ep)!]]).sort()).toEqual([...members].sort());
      expect(c.transferring).toBeLessThanOrEqual(7);
    }
    const c = scheduler.get(id)!;
    for (let t = 0; t < 2000 && c.state !== 'completed'; t++) {
      h.clock.advance(5000);
      h.driver.step();
      await scheduler.tick();
    }
    expect(c.state).toBe('completed');
    for (const [ep] of members) {
      const record = h.driver.records.get(ep as string)!;
      expect(record.completedDownloads).toBe(1);
      expect(record.installs).toBe(1);
    }
    await scheduler.close();
  });

  it('a start stored but never sent is sent after the restart; a device already on the new version is counted', async () => {
    const h = harness({ devices: 3 });
    // The process dies between storing the starts and sending them.
    const d = h.driver;
    const lost: DeliveryDriver = {
      capabilities: d.capabilities,
      onEvent: (l) => d.onEvent(l),
      start: async () => undefined,
      status: (ep, img) => d.status(ep, img),
      setRate: () => undefined,
      pause: (ep) => d.pause(ep),
      resume: (ep) => d.resume(ep),
      releaseUpdate: (ep) => d.releaseUpdate(ep),
      cancel: (ep, r) => d.cancel(ep, r),
    };
    const crashed = new RolloutScheduler({ store: h.store.campaigns, driver: lost, inventory: h.inventory, discretion: h.discretion, clock: h.clock });
    const c = await crashed.create(h.spec({ plan: { stages: [{ remaining: true, soakSec: 0 }] } }));
    await crashed.startCampaign(c.id);
    await crashed.tick();
    await crashed.close();
    expect((await h.store.campaigns.listDeviceStates(c.id)).map((r) => r.phase)).toEqual(['transferring', 'transferring', 'transferring']);
    // dev-00002 was updated some other way meanwhile and reports the new version.
    h.inventory.put({ endpoint: 'dev-00002', deviceType: 'sensor', version: '2.0.0' });
    await h.scheduler.load();
    await h.run(60_000, 1000);
    const after = h.scheduler.get(c.id)!;
    expect(after.state).toBe('completed');
    expect(h.driver.records.get('dev-00000')!.completedDownloads).toBe(1);
    expect(h.driver.records.has('dev-00002')).toBe(false);
  });

  it('a campaign whose creation was interrupted is dropped at load', async () => {
    const h = harness({ devices: 3 });
    await h.store.campaigns.put({ id: 'c-half', status: 'creating', createdAt: 1, updatedAt: 1, spec: {} });
    await h.store.campaigns.setDeviceState('c-half', 'dev-00000', { phase: 'planned', updatedAt: 1, data: { stage: 0 } }, 0);
    await h.scheduler.load();
    expect(h.scheduler.list()).toEqual([]);
    expect(await h.store.campaigns.get('c-half')).toBeUndefined();
    expect(await h.store.campaigns.listDeviceStates('c-half')).toEqual([]);
  });
});

describe('bad input and policy', () => {
  it('refuses a second campaign for a device that is in an active one', async () => {
    const h = harness({ devices: 5 });
    await h.scheduler.create(h.spec({ target: { endpoints: ['dev-00001', 'dev-00002'] } }));
    await expect(h.scheduler.create(h.spec({}))).rejects.toThrow(CampaignConflictError);
    await expect(h.scheduler.create(h.spec({}))).rejects.toThrow('2 device(s) already belong to an active campaign (one active campaign per device): dev-00001, dev-00002');
    const other = await h.scheduler.create(h.spec({ target: { endpoints: ['dev-00003'] } }));
    expect(other.endpointList()).toEqual(['dev-00003']);
  });

  it('devices the verifier refuses are skipped with the reason; the others proceed', async () => {
    const h = harness({ devices: 6, scheduler: { verifyImage: async (_spec, ep) => (ep === 'dev-00001' || ep === 'dev-00004' ? 'tier 1 device: the manifest is not MACed with its key' : undefined) } });
    const c = await h.scheduler.create(h.spec({ plan: { stages: [{ remaining: true, soakSec: 0 }] } }));
    await h.scheduler.startCampaign(c.id);
    await h.run(60_000, 1000, () => c.state === 'completed');
    expect(c.state).toBe('completed');
    expect(c.count(0, 'skipped')).toBe(2);
    expect(c.count(0, 'succeeded')).toBe(4);
    expect(c.detail(c.indexOf('dev-00004')!).reason).toBe('refused by the verifier: tier 1 device: the manifest is not MACed with its key');
    expect(h.driver.records.has('dev-00001')).toBe(false);
  });

  it('version prerequisites skip devices with the reason', async () => {
    const h = harness({ devices: 4, facts: (i) => ({ version: i < 2 ? '0.9.0' : '1.2.0' }) });
    const c = await h.scheduler.create(h.spec({ plan: { stages: [{ remaining: true, soakSec: 0 }] }, policy: { fromVersions: '>=1.0.0' } }));
    await h.scheduler.startCampaign(c.id);
    await h.run(60_000, 1000, () => c.state === 'completed');
    expect(c.count(0, 'skipped')).toBe(2);
    expect(c.detail(c.indexOf('dev-00000')!).reason).toBe('installed version 0.9.0 may not take this image (>=1.0.0)');
  });

  it('a critical campaign preempts a normal one, skips soak times and writes Severity 0', async () => {
    const h = harness({ devices: 20, driver: { linkBytesPerSec: () => 500 } });
    const normal = await h.scheduler.create(h.spec({ plan: { stages: [{ count: 2, soakSec: 3600 }, { remaining: true }] } }));
    await h.scheduler.startCampaign(normal.id);
    await h.run(5_000, 1000);
    const inflight = [...normal.inflight].map((i) => normal.endpoint(i));
    expect(inflight).toHaveLength(2);
    const critical = await h.scheduler.create(h.spec({ plan: { stages: [{ count: 5, soakSec: 86400 }, { remaining: true, soakSec: 86400 }] }, policy: { severity: 'critical' } }, { id: 'img-sec', version: '2.0.1' }));
    expect(critical.endpointList()).toHaveLength(20);
    expect(normal.count(0, 'cancelled') + normal.count(1, 'skipped')).toBe(20);
    expect(normal.detail(normal.indexOf(inflight[0])!).reason).toBe('preempted by a critical campaign');
    await h.scheduler.startCampaign(critical.id);
    await h.run(DAY / 4, 10_000, () => critical.state === 'completed');
    expect(critical.state).toBe('completed');
    expect(h.driver.records.get('dev-00007')!.severity).toBe(0);
    await h.run(DAY, 60_000);
    expect(normal.state).toBe('completed');
  });
});
