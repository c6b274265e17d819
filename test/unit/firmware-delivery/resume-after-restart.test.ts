/**
 * A restart can swallow the re-registration a delivery waits for: the device re-registers
 * while the server is down (or before the deliveries are resumed) and then stays quiet for
 * its lifetime. Resuming must check such a device at once, not wait out the phase timeout.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryDeliveryStore } from '../../../src/firmware/delivery/delivery-store.js';
import type { DeliveryRecord, DeliveryState } from '../../../src/firmware/delivery/delivery-record.js';
import { startFirmwareHarness, type FirmwareHarness } from './harness.js';

describe('resume after a restart, for a device already back with the new image', () => {
  let harness: FirmwareHarness | undefined;
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  async function deliveredThenRewound(to: DeliveryState): Promise<{ store: MemoryDeliveryStore; record: DeliveryRecord; executes: () => number }> {
    const store = new MemoryDeliveryStore();
    harness = await startFirmwareHarness({ deliveries: store });
    const device = await harness.device({ endpointName: 'dev-resume', firmwareVersion: '1.0.0' });
    let executes = 0;
    device.on('requestReceived', (r) => {
      if (r.method === 'POST' && r.path === '/5/0/2') executes++;
    });
    const imageId = await harness.upload(harness.image('2.0.0', 2048), '2.0.0');
    const done = await harness.deliver('dev-resume', imageId, 'pull');
    expect(done.state).toBe('succeeded');
    // What the store held if the process died before the success was written down.
    const rewound: DeliveryRecord = { ...done, state: to, outcome: undefined, reason: undefined, history: done.history.filter((h) => h.to !== 'succeeded') };
    await store.put(rewound);
    return { store, record: rewound, executes: () => executes };
  }

  for (const state of ['verifying', 'updating', 'downloaded'] as const) {
    it(`finishes a delivery found "${state}" whose device is registered and runs the image`, async () => {
      const { record, executes } = await deliveredThenRewound(state);
      const executedBefore = executes();
      const resumedAt = Date.now();
      expect(await harness!.firmware.deliveries.resume()).toBe(1);
      const finished = await harness!.firmware.deliveries.whenFinished(record.id);
      expect(finished.state).toBe('succeeded');
      expect(finished.outcome).toBe('success');
      // Confirmed by the registration it already had, long before the test policy's 5 s phase timeout.
      expect(finished.history.at(-1)).toMatchObject({ to: 'succeeded', event: 'registered' });
      expect(Date.now() - resumedAt).toBeLessThan(2500);
      // The device already runs the image: Update is not sent to it again.
      expect(executes()).toBe(executedBefore);
    });
  }
});
