/**
 * Pull over CoAPS on the real server: a device registered over DTLS-PSK is given a
 * coaps:// pull URI on the CoAPS listener, downloads through its own DTLS session, resumes
 * by ETag after a power cut, and nobody else (plain CoAP, another DTLS identity) may fetch
 * its image.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bindUdpTransport, CoapCode, CoapEndpoint } from '../../src/coap/index.js';
import { SimulatedDevice, type SimulatedDeviceOptions } from '../../simulators/device/index.js';
import type { DeviceSecurity } from '../../simulators/device/dtls-transport.js';
import { buildSimImage } from '../../simulators/device/firmware/image-format.js';
import { api, startTestServer, uploadFirmware, type TestServer } from '../helpers/in-process-server.js';
import { connectPskDevice } from './coaps-psk-client.js';
import { untilTrue } from '../helpers/until.js';

const KEY_A = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const KEY_B = Buffer.from('ffeeddccbbaa99887766554433221100', 'hex');
const pskInfo = (identity: string, key: Buffer) => ({ tls: { mode: 'psk', details: { identity, key: key.toString('hex') } } });
const psk = (identity: string, key: Buffer): DeviceSecurity => ({ mode: 'psk', identity, key });

function pattern(size: number, seed: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 131 + (i >> 10) + seed) & 0xff;
  return bytes;
}

describe('firmware pull over CoAPS (DTLS-PSK)', () => {
  let server: TestServer;
  const devices: SimulatedDevice[] = [];
  const dirs: string[] = [];

  beforeAll(async () => {
    server = await startTestServer({ store: 'memory' });
  });
  afterEach(async () => {
    await Promise.all(devices.splice(0).map((d) => d.stop().catch(() => {})));
  });
  afterAll(async () => {
    await server?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  async function secureDevice(endpointName: string, identity: string, key: Buffer, options: Partial<SimulatedDeviceOptions> = {}): Promise<SimulatedDevice> {
    const device = new SimulatedDevice({
      endpointName,
      serverUri: `coaps://127.0.0.1:${server.coapsPort}`,
      security: psk(identity, key),
      lifetimeSec: 300,
      retryDelayMs: 0,
      rebootDelayMs: 20,
      requestTimeoutMs: 5000,
      ...options,
    });
    devices.push(device);
    await device.register();
    return device;
  }

  const upload = (image: Buffer, version: string): Promise<string> => uploadFirmware(server.baseUrl, image, { name: 'app', version });

  async function finished(endpoint: string, withinMs: number): Promise<any> {
    const deadline = Date.now() + withinMs;
    for (;;) {
      const { body } = await api(server, 'GET', `/api/clients/${endpoint}/firmware`);
      if (body.state === 'succeeded' || body.state === 'failed') return body;
      if (Date.now() > deadline) throw new Error(`delivery to ${endpoint} still ${body.state} after ${withinMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  const stateDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-coaps-'));
    dirs.push(dir);
    return dir;
  };

  it('delivers 1 MiB by pull over coaps://: byte-identical in the download slot, the device boots it, the record says succeeded', async () => {
    expect((await api(server, 'PUT', '/api/security/clients/sec-a', pskInfo('id-sec-a', KEY_A))).status).toBe(200);
    const image = buildSimImage({ name: 'app', version: '3.0.0', payload: pattern(1024 * 1024, 1) });
    const imageId = await upload(image, '3.0.0');
    const dir = stateDir();
    const device = await secureDevice('sec-a', 'id-sec-a', KEY_A, { firmwareVersion: '1.0.0', firmware: { stateDir: dir } });
    // The device says it speaks CoAPS (/5/0/8 = [0, 1]), so "auto" pulls.
    expect(device.firmware.protocols).toEqual([0, 1]);
    const uris: string[] = [];
    device.on('requestReceived', (r) => {
      if (r.method === 'PUT' && r.path === '/5/0/1') setImmediate(() => uris.push(device.firmware.packageUri));
    });
    const handshakesBefore = server.dtls.stats().handshakesCompleted;

    expect((await api(server, 'POST', '/api/clients/sec-a/firmware', { firmwareId: imageId, method: 'auto' })).status).toBe(202);
    const done = await finished('sec-a', 20_000);

    expect(done.state).toBe('succeeded');
    expect(done.method).toBe('pull');
    expect(done.result).toBe(1);
    expect(done.bytes).toBe(image.length);
    expect(uris.filter((u) => u !== '')).toHaveLength(1);
    expect(uris.find((u) => u !== '')).toMatch(new RegExp(`^coaps://127\\.0\\.0\\.1:${server.coapsPort}/fw/[A-Za-z0-9_-]+$`));
    // The download had its own DTLS session; the plain listener served no image.
    expect(server.dtls.stats().handshakesCompleted).toBeGreaterThan(handshakesBefore);
    expect(server.coap.stats().block2Bodies).toBe(0);
    expect(device.firmware.running.version).toBe('3.0.0');
    const slot = device.firmware.snapshot().active;
    expect(slot).toBe(1);
    const installed = readFileSync(join(dir, `slot-${slot}.bin`));
    expect(installed.length).toBe(image.length);
    expect(createHash('sha256').update(installed).digest('hex')).toBe(createHash('sha256').update(image).digest('hex'));
    expect(server.firmware.host.size).toBe(0);
  }, 30_000);

  it('pushes to a device on CoAPS through its DTLS session (the plain listener sends nothing)', async () => {
    expect((await api(server, 'PUT', '/api/security/clients/sec-p', pskInfo('id-sec-p', KEY_B))).status).toBe(200);
    const image = buildSimImage({ name: 'app', version: '3.2.0', payload: pattern(256 * 1024, 4) });
    const imageId = await upload(image, '3.2.0');
    const device = await secureDevice('sec-p', 'id-sec-p', KEY_B);
    const plainSent = server.coap.stats().sent;
    expect((await api(server, 'POST', '/api/clients/sec-p/firmware', { firmwareId: imageId, method: 'push' })).status).toBe(202);
    const done = await finished('sec-p', 20_000);
    expect(done.state).toBe('succeeded');
    expect(done.method).toBe('push');
    expect(device.firmware.running.version).toBe('3.2.0');
    expect(device.firmware.running.sha256).toBe(image.subarray(10, 42).toString('hex'));
    expect(server.coap.stats().sent).toBe(plainSent);
  }, 30_000);

  it('resumes a coaps:// pull by ETag after a power cut, from the block it had reached', async () => {
    expect((await api(server, 'PUT', '/api/security/clients/sec-r', pskInfo('id-sec-r', KEY_B))).status).toBe(200);
    const image = buildSimImage({ name: 'app', version: '3.1.0', payload: pattern(512 * 1024, 2) });
    const imageId = await upload(image, '3.1.0');
    const dir = stateDir();
    // A slow link (300 kB/s), so the cut lands mid-download.
    const firmware = { stateDir: dir, link: { bytesPerSecond: 300_000 } };
    const first = await secureDevice('sec-r', 'id-sec-r', KEY_B, { firmware });
    const slotFile = join(dir, 'slot-1.bin');
    const slotLength = (): number => {
      try {
        return statSync(slotFile).size;
      } catch {
        return 0;
      }
    };
    expect((await api(server, 'POST', '/api/clients/sec-r/firmware', { firmwareId: imageId, method: 'pull' })).status).toBe(202);
    await untilTrue('150 KiB in the download slot', () => slotLength() >= 150 * 1024, 10_000);
    await first.powerCut();
    const cutAt = slotLength();
    const etag = first.firmware.snapshot().etag;
    expect(etag).toMatch(/^[0-9a-f]{16}$/);

    const second = new SimulatedDevice({ endpointName: 'sec-r', serverUri: `coaps://127.0.0.1:${server.coapsPort}`, security: psk('id-sec-r', KEY_B), lifetimeSec: 300, retryDelayMs: 0, rebootDelayMs: 20, requestTimeoutMs: 5000, firmware: { stateDir: dir } });
    devices.push(second);
    let lowest = Infinity;
    const watch = setInterval(() => (lowest = Math.min(lowest, slotLength())), 2);
    try {
      await second.register();
      const done = await finished('sec-r', 20_000);
      expect(done.state).toBe('succeeded');
    } finally {
      clearInterval(watch);
    }
    // Same ETag, so the download went on from the last whole block instead of starting over.
    expect(lowest).toBeGreaterThanOrEqual(Math.floor(cutAt / 1024) * 1024);
    expect(second.firmware.running.version).toBe('3.1.0');
    const installed = readFileSync(join(dir, `slot-${second.firmware.snapshot().active}.bin`));
    expect(installed.equals(image)).toBe(true);
  }, 30_000);

  it('refuses the image to another DTLS identity (4.03) and over plain CoAP (4.01), with the reason', async () => {
    await api(server, 'PUT', '/api/security/clients/owner', pskInfo('id-owner', KEY_A));
    await api(server, 'PUT', '/api/security/clients/other', pskInfo('id-other', KEY_B));
    const image = pattern(3000, 3);
    const path = server.firmware.host.host('owner-token', image, createHash('sha256').update(image).digest('hex'), undefined, { endpoint: 'owner', secure: true });
    const coaps = { address: '127.0.0.1', port: server.coapsPort };

    const other = await connectPskDevice(server.coapsPort, 'id-other', KEY_B);
    try {
      const refused = await other.coap.request(coaps, { method: 'GET', path, timeoutMs: 4000 });
      expect(refused.code).toBe(CoapCode.Forbidden);
      expect(refused.payload.toString('utf8')).toBe('PSK identity "id-other" is not the identity of endpoint "owner"');
    } finally {
      await other.close();
    }

    const plain = new CoapEndpoint({ transport: await bindUdpTransport({ host: '127.0.0.1', port: 0 }), ackTimeoutMs: 500, maxRetransmit: 2 });
    try {
      const unauthorized = await plain.request({ address: '127.0.0.1', port: server.coapPort }, { method: 'GET', path, timeoutMs: 4000 });
      expect(unauthorized.code).toBe(CoapCode.Unauthorized);
      expect(unauthorized.payload.toString('utf8')).toBe('the image for "owner" is served over CoAPS only, to the device\'s own DTLS identity');
    } finally {
      await plain.close();
    }

    const owner = await connectPskDevice(server.coapsPort, 'id-owner', KEY_A);
    try {
      const fetched = await owner.coap.request(coaps, { method: 'GET', path, timeoutMs: 4000 });
      expect(fetched.code).toBe(CoapCode.Content);
      expect(fetched.payload.equals(image)).toBe(true);
    } finally {
      await owner.close();
      server.firmware.host.withdraw('owner-token');
    }
  }, 20_000);
});
