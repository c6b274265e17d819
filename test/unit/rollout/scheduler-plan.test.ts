import { describe, expect, it } from 'vitest';
import type { RolloutEvent } from '../../../src/rollout/events.js';
import { DAY, harness } from './harness.js';

describe('the seeds plan over a simulated fleet, accelerated', () => {
  it('runs canary first, then exact stage sizes one soak apart, every device updated once', async () => {
    const h = harness({ devices: 1000 });
    const events: RolloutEvent[] = [];
    h.scheduler.events.on((e) => events.push(e));
    const campaign = await h.scheduler.create(h.spec({ plan: { canary: { count: 3, soakSec: 3600 } } }));
    expect(campaign.doc.stages.map((s) => [s.name, s.size])).toEqual([
      ['canary', 3], ['day 1', 1], ['day 2', 10], ['day 3', 100], ['day 4', 200], ['day 5', 200], ['day 6', 200], ['day 7', 200], ['day 8', 86],
    ]);
    await h.scheduler.startCampaign(campaign.id);
    await h.run(10 * DAY, 10 * 60_000, () => campaign.state === 'completed');
    expect(campaign.state).toBe('completed');

    const stages = campaign.doc.stages;
    for (let s = 1; s < stages.length; s++) {
      // The next stage opens only after the previous one finished and soaked.
      expect(stages[s].openedAt!).toBeGreaterThanOrEqual(stages[s - 1].drainedAt! + stages[s - 1].soakMs);
    }
    expect(stages[1].openedAt! - stages[0].drainedAt!).toBeLessThan(3600_000 + 10 * 60_000);
    // Canary first: every canary device had succeeded before anyone else started.
    const canary = campaign.endpointList().filter((_, i) => campaign.stageOf[i] === 0);
    const firstOther = Math.min(...campaign.endpointList().map((_, i) => (campaign.stageOf[i] === 0 ? Infinity : campaign.detail(i).startedAt!)));
    expect(firstOther).toBeGreaterThanOrEqual(stages[0].passedAt!);
    expect(canary.every((ep) => campaign.phaseOf(campaign.indexOf(ep)!) === 'succeeded')).toBe(true);

    // Each stage started exactly its members; each device got the image once.
    for (let s = 0; s < stages.length; s++) expect(campaign.count(s, 'succeeded')).toBe(stages[s].size);
    for (const ep of campaign.endpointList()) expect(h.driver.records.get(ep)?.completedDownloads).toBe(1);
    const stored = await h.store.campaigns.listDeviceStates(campaign.id);
    expect(stored.filter((r) => r.phase === 'succeeded')).toHaveLength(1000);
    expect(events.filter((e) => e.type === 'stage' && e.to === 'active').map((e) => (e as { name: string }).name)).toEqual(stages.map((s) => s.name));
    expect(events.at(-1)).toMatchObject({ type: 'campaign', to: 'completed' });
    await h.scheduler.close();
  });

  it('a device registered mid-campaign joins the last stage', async () => {
    const h = harness({ devices: 20 });
    const campaign = await h.scheduler.create(h.spec({ plan: { stages: [{ count: 10, soakSec: 3600 }, { remaining: true, soakSec: 0 }] } }));
    await h.scheduler.startCampaign(campaign.id);
    await h.run(60_000, 1000);
    h.inventory.put({ endpoint: 'late-1', deviceType: 'sensor', version: '1.0.0' });
    h.inventory.put({ endpoint: 'other-type', deviceType: 'meter', version: '1.0.0' });
    expect(campaign.doc.stages.map((s) => s.size)).toEqual([10, 11]);
    await h.run(2 * 3600_000, 60_000, () => campaign.state === 'completed');
    expect(campaign.state).toBe('completed');
    expect(campaign.phaseOf(campaign.indexOf('late-1')!)).toBe('succeeded');
    expect(campaign.has('other-type')).toBe(false);
    expect((await h.store.campaigns.getDeviceState(campaign.id, 'late-1'))?.phase).toBe('succeeded');
  });
});
