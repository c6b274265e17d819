/**
 * Push and pull through a proxy that loses 10 % of datagrams, duplicates and reorders
 * them: the installed bytes equal the uploaded bytes every time. Short CoAP timers keep it
 * within seconds; the 4 MiB transfers are in the benchmark (simulators/bench/firmware-bench.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFirmwareHarness, type FirmwareHarness } from './harness.js';
import { startLossyProxy, type LossyProxy } from '../../helpers/lossy-proxy.js';

describe('firmware transfer through a lossy, duplicating, reordering link', () => {
  let h: FirmwareHarness;
  let proxy: LossyProxy;

  beforeAll(async () => {
    h = await startFirmwareHarness({ ackTimeoutMs: 15, policy: { requestTimeoutMs: 4000, transferTimeoutMs: 15_000 } });
    proxy = await startLossyProxy({ address: '127.0.0.1', port: h.coap.address().port }, { loss: 0.1, duplicate: 0.05, reorder: 0.1 });
  });
  afterAll(async () => {
    await proxy?.close();
    await h?.close();
  });

  const cases = [
    { method: 'push', size: 1024 * 1024 - 100, szx: 6 },
    { method: 'pull', size: 1024 * 1024 - 100, szx: 6 },
    { method: 'push', size: 8 * 1024, szx: 0 },
    { method: 'pull', size: 16 * 1024, szx: 2 },
    { method: 'push', size: 48 * 1024, szx: 4 },
  ] as const;

  it.each(cases)('$method of $size bytes at block szx $szx installs the exact bytes', async ({ method, size, szx }) => {
    const version = `9.${method}.${size}.${szx}`;
    const image = h.image(version, size);
    const imageId = await h.upload(image, version);
    const endpointName = `lossy-${method}-${size}-${szx}`;
    const device = await h.device({
      endpointName,
      serverUri: `coap://127.0.0.1:${proxy.port}`,
      ackTimeoutMs: 15,
      blockSzx: szx,
      firmware: { behaviour: { pullBlockSzx: szx, pullAckTimeoutMs: 15, pullMaxRetransmit: 8 } },
    });
    // Pull URIs must lead through the proxy too: the device reaches the server only there.
    const record = await deliverVia(h, endpointName, imageId, method, proxy.port);
    expect(record.state, `${record.outcome}: ${record.reason}`).toBe('succeeded');
    expect(device.firmware.running.sha256).toBe(image.subarray(10, 42).toString('hex'));
    expect(device.firmware.running.version).toBe(version);
    expect(proxy.stats.dropped).toBeGreaterThan(0);
  }, 20_000);
});

async function deliverVia(h: FirmwareHarness, endpoint: string, imageId: string, method: 'push' | 'pull', proxyPort: number) {
  const service = h.firmware.deliveries as unknown as { options: { pullBaseUri: () => string } };
  service.options.pullBaseUri = () => `coap://127.0.0.1:${proxyPort}`;
  return h.deliver(endpoint, imageId, method, 18_000);
}
