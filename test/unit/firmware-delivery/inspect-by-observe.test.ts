/**
 * The delivery inspects a device through the observation it keeps anyway: its first answer
 * is the inspection, so a pull costs one /5/0 exchange before the URI write, not a read and
 * then an observe.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFirmwareHarness, type FirmwareHarness } from './harness.js';
import type { RequestSummary } from '../../../simulators/device/simulated-device.js';

describe('inspection through the /5/0 observation', () => {
  let h: FirmwareHarness;
  let imageId: string;

  beforeAll(async () => {
    h = await startFirmwareHarness();
    imageId = await h.upload(h.image('4.0.0', 30_000), '4.0.0');
  });
  afterAll(async () => {
    await h?.close();
  });

  it('observes /5/0 once before writing the Package URI, and no plain read of /5/0 precedes it', async () => {
    const device = await h.device({ endpointName: 'inspect-obs-1' });
    const seen: RequestSummary[] = [];
    device.on('requestReceived', (r) => seen.push(r));
    const record = await h.deliver('inspect-obs-1', imageId, 'pull');
    expect(record.state).toBe('succeeded');
    expect(device.firmware.running.version).toBe('4.0.0');
    const uriWrite = seen.findIndex((r) => r.method === 'PUT' && r.path === '/5/0/1');
    expect(uriWrite).toBeGreaterThan(0);
    const before = seen.slice(0, uriWrite).filter((r) => r.path === '/5/0');
    expect(before.map((r) => ({ method: r.method, observe: r.observe }))).toEqual([{ method: 'GET', observe: 0 }]);
  });
});
