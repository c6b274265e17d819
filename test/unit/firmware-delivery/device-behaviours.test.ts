/**
 * Every way a simulated device's update can end, over real sockets: each Update Result the
 * device reports gives the matching server outcome; a device that boots back into the old
 * image fails even when it claims success; devices that cannot be updated fail with a reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFirmwareHarness, type FirmwareHarness } from './harness.js';
import { CoapEndpoint } from '../../../src/coap/endpoint.js';
import { bindUdpTransport } from '../../../src/coap/udp-transport.js';
import { CoapCode } from '../../../src/coap/types.js';
import type { FirmwareBehaviour } from '../../../simulators/device/firmware/behaviour.js';

describe('delivery outcomes against device behaviours', () => {
  let h: FirmwareHarness;
  let imageId: string;
  let image: Buffer;
  let n = 0;

  beforeAll(async () => {
    h = await startFirmwareHarness();
    image = h.image('3.0.0', 20_000);
    imageId = await h.upload(image, '3.0.0');
  });
  afterAll(async () => {
    await h?.close();
  });

  async function deliverTo(behaviour: FirmwareBehaviour, method: 'push' | 'pull', extra: Record<string, unknown> = {}) {
    const endpointName = `beh-${++n}`;
    const device = await h.device({ endpointName, firmware: { behaviour }, ...extra });
    const record = await h.deliver(endpointName, imageId, method);
    return { device, record };
  }

  it.each([
    ['not enough flash → 2', { flashBytes: 1000 }, 'pull', 2, 'not-enough-flash'],
    ['out of RAM → 3', { outOfRam: true }, 'push', 3, 'out-of-ram'],
    ['connection lost every time → 4 after the last attempt', { loseConnectionAfterBytes: 5000, loseConnectionTimes: 99 }, 'pull', 4, 'connection-lost'],
    ['corrupted download → 5', { corruptDownload: true }, 'pull', 5, 'integrity-failure'],
    ['unsupported package → 6', { rejectPackage: true }, 'push', 6, 'unsupported-package'],
    ['image fails to boot → revert → 8', { bootFails: true }, 'push', 8, 'update-failed'],
  ] as const)('%s', async (_name, behaviour, method, result, outcome) => {
    const { device, record } = await deliverTo(behaviour, method);
    expect(record.state).toBe('failed');
    expect(record.result).toBe(result);
    expect(record.outcome).toBe(outcome);
    expect(record.reason).toContain(`Update Result ${result}`);
    // Whatever happened, the device still runs its valid factory image.
    expect(device.firmware.running.version).toBe('1.0.0');
    expect(device.firmware.snapshot().active).toBe(0);
  });

  it('a lost link once is retried and then succeeds (attempt 2)', async () => {
    const { device, record } = await deliverTo({ loseConnectionAfterBytes: 5000 }, 'pull');
    expect(record.state).toBe('succeeded');
    expect(record.attempts).toBe(2);
    expect(record.history.filter((entry) => entry.to === 'transferring').length).toBe(2);
    expect(device.firmware.running.version).toBe('3.0.0');
  });

  it('user deferral (11) waits the Maximum Defer Period and executes again', async () => {
    const started = Date.now();
    const { device, record } = await deliverTo({ deferUpdates: 1, maxDeferPeriodSec: 1 }, 'push');
    expect(record.state).toBe('succeeded');
    expect(record.deferrals).toBe(1);
    expect(record.history.map((entry) => entry.to)).toContain('deferred');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(device.firmware.running.version).toBe('3.0.0');
  });

  it('a device that says success but boots the old image is a failure (wrong version)', async () => {
    const { record } = await deliverTo({ claimSuccessButKeepOldImage: true }, 'pull');
    expect(record.state).toBe('failed');
    expect(record.result).toBe(1);
    expect(record.outcome).toBe('wrong-version');
    expect(record.reason).toContain('"1.0.0"');
  });

  it('a device that reports nonsense states fails with a reason', async () => {
    const { record } = await deliverTo({ nonsenseState: true }, 'pull');
    expect(record.state).toBe('failed');
    expect(record.outcome).toBe('bad-device-state');
    expect(record.reason).toContain('impossible State 7');
  });

  it('push-only and pull-only devices get what they support with "auto"; a forced impossible method fails', async () => {
    const pushOnly = await deliverTo({ deliveryMethod: 1 }, 'auto' as 'push');
    expect([pushOnly.record.method, pushOnly.record.state]).toEqual(['push', 'succeeded']);
    const pullOnly = await deliverTo({ deliveryMethod: 0 }, 'push');
    expect(pullOnly.record.state).toBe('failed');
    expect(pullOnly.record.outcome).toBe('unsupported-device');
  });

  it('renegotiates push blocks down to the device (64 bytes) and pulls with 32-byte blocks', async () => {
    const pushed = await deliverTo({}, 'push', { blockSzx: 2 });
    expect(pushed.record.state).toBe('succeeded');
    expect(pushed.device.firmware.running.sha256).toBe(image.subarray(10, 42).toString('hex'));
    const pulled = await deliverTo({ pullBlockSzx: 1 }, 'pull');
    expect(pulled.record.state).toBe('succeeded');
  });

  it('fails a device without Object 5 with a reason, and refuses unknown devices and images', async () => {
    // A bare LwM2M client with only Object 3: answers 4.04 to anything under /5.
    const udp = await bindUdpTransport({ host: '127.0.0.1', port: 0 });
    const bare = new CoapEndpoint({ transport: udp });
    bare.setRequestHandler(() => ({ code: CoapCode.NotFound }));
    const server = { address: '127.0.0.1', port: h.coap.address().port };
    const registered = await bare.request(server, { method: 'POST', path: ['rd'], query: ['ep=no-fw', 'lt=300', 'lwm2m=1.1'], payload: Buffer.from('</3/0>'), contentFormat: 40 });
    expect(registered.code).toBe(CoapCode.Created);
    try {
      const record = await h.deliver('no-fw', imageId, 'auto');
      expect(record.state).toBe('failed');
      expect(record.outcome).toBe('unsupported-device');
      expect(record.reason).toContain('no Firmware Update object');
    } finally {
      await bare.close();
    }
    await expect(h.firmware.deliveries.start('nobody', imageId, 'push')).rejects.toThrow('no registered device');
    await expect(h.firmware.deliveries.start(`beh-1`, 'bad-image', 'push')).rejects.toThrow('no firmware image');
  });
});
