import { describe, expect, it } from 'vitest';
import { harness } from './harness.js';

const allAtOnce = { stages: [{ remaining: true, soakSec: 0 }] };

describe('idle windows', () => {
  it('busy devices never receive a byte while busy; a device turning busy mid-transfer pauses and later completes', async () => {
    const busy = new Set<string>();
    const h = harness({ devices: 10, driver: { linkBytesPerSec: () => 1000, isBusy: (ep) => busy.has(ep) } });
    // Image 20 kB at 1 kB/s: 20 s of transfer.
    h.discretion.update('dev-00000', { idle: false, busyReason: 'driving' });
    busy.add('dev-00000');
    const c = await h.scheduler.create(h.spec({ plan: allAtOnce }));
    await h.scheduler.startCampaign(c.id);
    await h.run(8_000, 1000);
    expect(c.phaseOf(0 + c.indexOf('dev-00000')!)).toBe('waiting');
    expect(c.detail(c.indexOf('dev-00000')!).reason).toBe('busy: driving');

    // dev-00001 turns busy mid-transfer.
    const i1 = c.indexOf('dev-00001')!;
    expect(c.phaseOf(i1)).toBe('transferring');
    h.discretion.update('dev-00001', { idle: false, busyReason: 'user active' });
    busy.add('dev-00001');
    await h.run(1000, 1000);
    expect(c.phaseOf(i1)).toBe('paused');
    const held = h.driver.records.get('dev-00001')!.bytesReceived;
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThan(20_000);
    await h.run(60_000, 1000);
    expect(h.driver.records.get('dev-00001')!.bytesReceived).toBe(held);
    expect(c.detail(i1).activeMs).toBeLessThan(20_000);

    busy.clear();
    h.discretion.update('dev-00000', { idle: true });
    h.discretion.update('dev-00001', { idle: true });
    await h.run(120_000, 1000, () => c.state === 'completed');
    expect(c.state).toBe('completed');
    for (const ep of ['dev-00000', 'dev-00001']) {
      const record = h.driver.records.get(ep)!;
      expect(record.busyBytes).toBe(0);
      // Resumed from where it stopped: the image arrived once, not twice.
      expect(record.bytesReceived).toBe(20_000);
      expect(record.completedDownloads).toBe(1);
    }
  });

  it('windows too short for the image are not used', async () => {
    const h = harness({ devices: 2, driver: { linkBytesPerSec: () => 1000 } });
    const c = await h.scheduler.create(h.spec({ plan: allAtOnce }));
    // 20 kB at a measured-or-assumed 10 kB/s is 2 s; with the 1.5 margin 3 s are needed.
    h.discretion.set('dev-00000', { idle: true, idleUntil: h.clock.now() + 2_500 });
    h.discretion.set('dev-00001', { idle: true, idleUntil: h.clock.now() + 3_600_000 });
    await h.scheduler.startCampaign(c.id);
    await h.run(2_000, 1000);
    expect(c.phaseOf(c.indexOf('dev-00000')!)).toBe('waiting');
    expect(c.detail(c.indexOf('dev-00000')!).reason).toMatch(/^idle window too short: [01] s left, 3 s needed$/);
    expect(h.driver.records.has('dev-00000')).toBe(false);
    expect(h.driver.records.has('dev-00001')).toBe(true);
  });

  it('the estimate learns the measured throughput of the device class', async () => {
    const h = harness({ devices: 3, driver: { linkBytesPerSec: () => 1000 } });
    const c = await h.scheduler.create(h.spec({ plan: { stages: [{ count: 1, soakSec: 0 }, { remaining: true }] } }));
    const later = c.endpointList().findIndex((_, i) => c.stageOf[i] === 1);
    // Before any measurement the assumed 10 kB/s make it 2 s.
    expect(Math.round(h.scheduler.estimateMs(c, later) / 1000)).toBe(2);
    h.discretion.set(c.endpoint(later), { idle: false });
    await h.scheduler.startCampaign(c.id);
    await h.run(60_000, 1000, () => c.doc.stages[0].state !== 'active');
    // Measured 1 kB/s: 20 kB take 20 s, 30 s with the margin.
    expect(Math.round(h.scheduler.estimateMs(c, later) / 1000)).toBe(20);
    h.discretion.set(c.endpoint(later), { idle: true, idleUntil: h.clock.now() + 25_000 });
    await h.run(5_000, 1000);
    expect(c.phaseOf(later)).toBe('waiting');
    expect(c.detail(later).reason).toMatch(/^idle window too short: 2\d s left, 30 s needed$/);
    h.discretion.set(c.endpoint(later), { idle: true, idleUntil: h.clock.now() + 40_000 });
    await h.run(1_000, 1000);
    expect(c.phaseOf(later)).toBe('transferring');
  });

  it('Update waits for an idle window', async () => {
    const h = harness({ devices: 1 });
    const c = await h.scheduler.create(h.spec({ plan: allAtOnce }));
    await h.scheduler.startCampaign(c.id);
    await h.run(1000, 1000);
    h.discretion.set('dev-00000', { idle: false, busyReason: 'control loop' });
    await h.run(5000, 1000);
    expect(c.phaseOf(0)).toBe('paused');
    // The device turns busy again the moment the image is complete.
    h.driver.onEvent((e) => {
      if (e.kind === 'downloaded') h.discretion.set('dev-00000', { idle: false, busyReason: 'control loop' });
    });
    h.discretion.set('dev-00000', { idle: true });
    await h.run(60_000, 1000);
    expect(c.phaseOf(0)).toBe('downloaded');
    expect(h.driver.records.get('dev-00000')!.installs).toBe(0);
    expect(c.detail(0).reason).toBe('update waits: busy: control loop');
    h.discretion.set('dev-00000', { idle: true });
    await h.run(10_000, 1000);
    expect(c.phaseOf(0)).toBe('succeeded');
    expect(h.driver.records.get('dev-00000')!.installs).toBe(1);
  });

  it('sleepy devices are served during their awake time', async () => {
    const h = harness({ devices: 1, driver: { linkBytesPerSec: () => 2000 } });
    const c = await h.scheduler.create(h.spec({ plan: allAtOnce }));
    h.discretion.set('dev-00000', { idle: true, asleep: true, nextWakeAt: h.clock.now() + 60_000 });
    await h.scheduler.startCampaign(c.id);
    await h.run(59_000, 1000);
    expect(h.driver.records.has('dev-00000')).toBe(false);
    expect(c.detail(0).reason).toBe('asleep');
    h.discretion.set('dev-00000', { idle: true, asleep: false, awakeUntil: h.clock.now() + 120_000 });
    await h.run(30_000, 1000);
    expect(c.phaseOf(0)).toBe('succeeded');
  });

  it('low battery without external power defers; user deferral ends when it becomes mandatory', async () => {
    const h = harness({ devices: 2 });
    const c = await h.scheduler.create(h.spec({ plan: allAtOnce, policy: { maxDeferralSec: 600 } }));
    h.discretion.set('dev-00000', { idle: true, batteryPercent: 5 });
    h.discretion.set('dev-00001', { idle: true, deferredUntil: h.clock.now() + 24 * 3600_000 });
    await h.scheduler.startCampaign(c.id);
    await h.run(300_000, 10_000);
    expect(c.detail(0).reason).toBe('low battery (5% < 20%, no external power)');
    expect(c.detail(1).reason).toBe('deferred by the user');
    await h.run(340_000, 10_000);
    expect(c.phaseOf(1)).toBe('succeeded');
    expect(c.phaseOf(0)).toBe('waiting');
    h.discretion.set('dev-00000', { idle: true, batteryPercent: 5, externalPower: true });
    await h.run(20_000, 1000);
    expect(c.phaseOf(0)).toBe('succeeded');
  });

  it('nothing starts outside the maintenance window (device timezone)', async () => {
    const h = harness({ devices: 2 });
    // The clock starts at 2026-01-05 00:00 UTC; the window is 02:00–02:59 local.
    const c = await h.scheduler.create(h.spec({ plan: allAtOnce, limits: { maintenanceWindows: ['* 2 * * *'] } }));
    h.discretion.set('dev-00000', { idle: true, timezone: 'Europe/Paris' });
    h.discretion.set('dev-00001', { idle: true, timezone: 'UTC' });
    await h.scheduler.startCampaign(c.id);
    await h.run(3600_000 - 60_000, 60_000);
    expect(h.driver.records.size).toBe(0);
    expect(c.detail(0).reason).toBe('outside the maintenance windows');
    await h.run(180_000, 60_000);
    expect(c.phaseOf(0)).toBe('succeeded');
    expect(c.phaseOf(1)).toBe('waiting');
    await h.run(3600_000, 60_000);
    expect(c.phaseOf(1)).toBe('succeeded');
    expect(c.detail(1).startedAt! - Date.UTC(2026, 0, 5, 2, 0)).toBeGreaterThanOrEqual(0);
  });
});

describe('limits', () => {
  it('the bandwidth budget holds within 10% over a window, and concurrency never exceeds its limit', async () => {
    const h = harness({ devices: 30, driver: { linkBytesPerSec: () => 10_000 } });
    const c = await h.scheduler.create(h.spec({ plan: allAtOnce, limits: { bandwidthBytesPerSec: 50_000, maxConcurrent: 8 } }, { sizeBytes: 2_000_000 }));
    await h.scheduler.startCampaign(c.id);
    await h.run(10_000, 1000);
    const before = h.driver.totalBytes;
    let maxActive = 0;
    const windowMs = 60_000;
    for (let t = 0; t < windowMs; t += 1000) {
      await h.run(1000, 1000);
      maxActive = Math.max(maxActive, c.transferring, h.driver.activeTransfers);
    }
    const measured = ((h.driver.totalBytes - before) * 1000) / windowMs;
    expect(Math.abs(measured - 50_000) / 50_000).toBeLessThan(0.1);
    expect(maxActive).toBeLessThanOrEqual(8);
  });

  it('the global budget is shared by campaigns and per-gateway limits hold', async () => {
    const h = harness({ devices: 20, facts: (i) => ({ gateway: i % 2 === 0 ? 'gw-a' : 'gw-b', deviceType: i < 10 ? 'sensor' : 'meter' }), driver: { linkBytesPerSec: () => 10_000 }, scheduler: { limits: { bandwidthBytesPerSec: 30_000, maxConcurrentPerGateway: 2 } } });
    const a = await h.scheduler.create(h.spec({ plan: allAtOnce }, { sizeBytes: 2_000_000 }));
    const b = await h.scheduler.create(h.spec({ plan: allAtOnce, target: { deviceTypes: ['meter'] } }, { sizeBytes: 2_000_000 }));
    await h.scheduler.startCampaign(a.id);
    await h.scheduler.startCampaign(b.id);
    await h.run(5_000, 1000);
    const before = h.driver.totalBytes;
    let peak = 0;
    for (let t = 0; t < 30_000; t += 1000) {
      await h.run(1000, 1000);
      peak = Math.max(peak, a.transferring + b.transferring);
    }
    expect(peak).toBeLessThanOrEqual(4);
    const measured = (h.driver.totalBytes - before) / 30;
    expect(Math.abs(measured - 30_000) / 30_000).toBeLessThan(0.1);
  });
});
