/**
 * Pause/resume of a push and a held Update over real sockets on 127.0.0.1: the server's
 * own socket is wrapped to count the package bytes it really sends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMessage } from '../../src/coap/codec.js';
import { uriPath } from '../../src/coap/options.js';
import { CoapCode, type DatagramTransport } from '../../src/coap/types.js';
import type { DeliveryRecord, DeliveryState } from '../../src/firmware/delivery/delivery-record.js';
import { startFirmwareHarness, type FirmwareHarness } from '../unit/firmware-delivery/harness.js';

const BLOCK = 1024;

/** Counts the /5/0/0 push blocks the server sends and the pull blocks it is asked for. */
class PushCounter {
  blocks = 0;
  bytes = 0;
  onBlock: ((blocks: number) => void) | undefined;
  pullRequests = 0;
  onPullRequest: ((requests: number) => void) | undefined;

  wrap(inner: DatagramTransport): DatagramTransport {
    return {
      send: (datagram, remote) => {
        const message = parseMessage(datagram);
        if (message.code === CoapCode.PUT && uriPath(message).join('/') === '5/0/0') {
          this.blocks++;
          this.bytes += message.payload.length;
          this.onBlock?.(this.blocks);
        }
        inner.send(datagram, remote);
      },
      onDatagram: (handler) =>
        inner.onDatagram((datagram, remote) => {
          const message = parseMessage(datagram);
          if (message.code === CoapCode.GET && uriPath(message)[0] === 'fw') {
            this.pullRequests++;
            this.onPullRequest?.(this.pullRequests);
          }
          handler(datagram, remote);
        }),
      address: () => inner.address(),
      close: () => inner.close(),
    };
  }
}

describe('pausing a push and holding the Update', () => {
  let h: FirmwareHarness;
  const counter = new PushCounter();

  beforeAll(async () => {
    h = await startFirmwareHarness({ wrapTransport: (t) => counter.wrap(t), policy: { pushBlockSzx: 6 } });
  });
  afterAll(async () => {
    await h?.close();
  });

  function reaches(id: string, state: DeliveryState, withinMs = 8000): Promise<DeliveryRecord> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`delivery ${id} did not reach ${state} within ${withinMs} ms`));
      }, withinMs);
      const off = h.firmware.deliveries.events.on('transition', ({ delivery }) => {
        if (delivery.id === id && delivery.state === state) {
          clearTimeout(timer);
          off();
          resolve(delivery);
        }
      });
    });
  }

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('a push paused mid-transfer sends nothing while paused and resumes from the acknowledged block', async () => {
    const version = '5.1.0';
    const image = h.image(version, 40 * BLOCK);
    const imageId = await h.upload(image, version);
    const device = await h.device({ endpointName: 'pause-push', blockSzx: 6 });
    const before = device.firmware.running.version;
    counter.blocks = 0;
    counter.bytes = 0;
    const deliveries = h.firmware.deliveries;
    counter.onBlock = (blocks) => {
      if (blocks === 10) void deliveries.pause('pause-push');
    };
    const started = await deliveries.start('pause-push', imageId, 'push');
    const paused = await reaches(started.id, 'paused');
    counter.onBlock = undefined;
    expect(paused.method).toBe('push');

    // Block 10 was in flight when the pause came: it is acknowledged, then nothing more leaves.
    await sleep(400);
    expect(counter.blocks).toBe(10);
    expect((await deliveries.get(started.id))!.bytes).toBe(10 * BLOCK);
    // The device's CoAP layer holds the partial body; Object 5 sees the package only once whole.
    expect([device.firmware.state, device.firmware.running.version]).toEqual([0, before]);

    const finished = deliveries.whenFinished(started.id);
    expect(await deliveries.resume('pause-push')).toBe(true);
    const record = await finished;
    expect(record.state).toBe('succeeded');
    expect(device.firmware.running.version).toBe(version);
    expect(device.firmware.running.sha256).toBe(image.subarray(10, 42).toString('hex'));
    // Every byte sent once: resume continued the same Block1 sequence.
    expect(counter.bytes).toBeLessThanOrEqual(image.length + BLOCK);
    expect(counter.bytes).toBe(image.length);
    expect(record.history.map((e) => e.to)).toEqual(['inspecting', 'transferring', 'paused', 'transferring', 'downloaded', 'updating', 'verifying', 'succeeded']);
  }, 15_000);

  it('a pulling device that turns busy stops by itself and resumes from its last block', async () => {
    const version = '5.3.0';
    const image = h.image(version, 30 * BLOCK);
    const imageId = await h.upload(image, version);
    const device = await h.device({ endpointName: 'pause-pull', firmware: { behaviour: { pullBlockSzx: 6 } } });
    const before = device.firmware.running.version;
    let release: (() => void) | undefined;
    let busy: Promise<void> | undefined;
    device.firmware.setIdleGate(() => busy);
    counter.pullRequests = 0;
    const deliveries = h.firmware.deliveries;
    counter.onPullRequest = (requests) => {
      if (requests !== 12) return;
      // The device turns busy while block 11 is on its way: it asks for no more.
      busy = new Promise<void>((resolve) => (release = resolve));
      void deliveries.pause('pause-pull');
    };
    const started = await deliveries.start('pause-pull', imageId, 'pull');
    const paused = await reaches(started.id, 'paused');
    counter.onPullRequest = undefined;
    expect(paused.method).toBe('pull');
    await sleep(400);
    expect([counter.pullRequests, device.firmware.state, device.firmware.running.version]).toEqual([12, 1, before]);

    const finished = deliveries.whenFinished(started.id);
    busy = undefined;
    release!();
    expect(await deliveries.resume('pause-pull')).toBe(true);
    const record = await finished;
    expect(record.state).toBe('succeeded');
    expect(device.firmware.running.sha256).toBe(image.subarray(10, 42).toString('hex'));
    // Each block asked once: the pull went on from where it stopped.
    expect(counter.pullRequests).toBe(Math.ceil(image.length / BLOCK));
  }, 15_000);

  it('holds Update until released, and runs no phase timer meanwhile', async () => {
    const version = '5.2.0';
    const image = h.image(version, 8 * BLOCK);
    const imageId = await h.upload(image, version);
    const device = await h.device({ endpointName: 'hold-update', blockSzx: 6 });
    const before = device.firmware.running.version;
    const deliveries = h.firmware.deliveries;
    const started = await deliveries.start('hold-update', imageId, 'push', { holdUpdate: true });
    await reaches(started.id, 'held');
    // Longer than the harness's downloadedTimeoutMs would allow if a timer counted.
    await sleep(600);
    const held = (await deliveries.get(started.id))!;
    expect([held.state, device.firmware.state, device.firmware.running.version]).toEqual(['held', 2, before]);

    const finished = deliveries.whenFinished(started.id);
    expect(await deliveries.releaseUpdate('hold-update')).toBe(true);
    const record = await finished;
    expect(record.state).toBe('succeeded');
    expect(device.firmware.running.version).toBe(version);
  }, 15_000);

  it('pause, resume and release answer false when there is nothing to act on', async () => {
    const deliveries = h.firmware.deliveries;
    expect(await deliveries.pause('nobody')).toBe(false);
    expect(await deliveries.resume('nobody')).toBe(false);
    expect(await deliveries.releaseUpdate('nobody')).toBe(false);
  });
});
