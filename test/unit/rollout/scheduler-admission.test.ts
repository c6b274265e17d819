/** An open stage is admitted a slice per tick, so opening a stage of 200,000 is never one long tick. */
import { describe, expect, it } from 'vitest';
import { campaignJson } from '../../../src/rollout/campaign-view.js';
import { harness } from './harness.js';

describe('stage admission', () => {
  it('admits at most admitPerTick members per tick; the rest show as pending; everyone ends updated once', async () => {
    const h = harness({ devices: 100, scheduler: { admitPerTick: 25, maxStartsPerTick: 1000 } });
    const campaign = await h.scheduler.create(h.spec({ plan: { stages: [{ name: 'all', remaining: true, soakSec: 0 }] } }));
    await h.scheduler.startCampaign(campaign.id);

    await h.run(1000);
    expect(campaign.count(0, 'transferring')).toBe(25);
    const stage = (campaignJson(campaign, h.clock.now()).stages as Array<Record<string, number>>)[0];
    expect([stage.planned, stage.pending, stage.transferring]).toEqual([0, 75, 25]);

    // A device that registers while the stage is still being admitted is admitted with the rest.
    h.inventory.put({ endpoint: 'late-1', deviceType: 'sensor', version: '1.0.0' });
    await h.run(1000);
    expect(campaign.count(0, 'transferring') + campaign.count(0, 'downloaded') + campaign.count(0, 'updating')).toBe(50);

    await h.run(60_000, 1000, () => campaign.state === 'completed');
    expect(campaign.state).toBe('completed');
    expect(campaign.count(0, 'succeeded')).toBe(101);
    for (const ep of campaign.endpointList()) expect(h.driver.records.get(ep)?.completedDownloads).toBe(1);
    await h.scheduler.close();
  });
});
