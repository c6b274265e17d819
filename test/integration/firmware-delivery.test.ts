/**
 * Firmware over the whole stack: an operator uploads an image over HTTP and delivers it by
 * push and by pull to simulated devices with A/B slots; the repository's bad inputs.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedDevice, type SimulatedDeviceOptions } from '../../simulators/device/index.js';
import { buildSimImage } from '../../simulators/device/firmware/image-format.js';
import { api as apiRequest, startTestServer, getJson, type TestServer } from '../helpers/in-process-server.js';
import { openEventStream } from '../helpers/sse.js';

describe('firmware delivery over HTTP, CoAP and simulated devices', () => {
  let server: TestServer;
  const devices: SimulatedDevice[] = [];

  beforeAll(async () => {
    server = await startTestServer({ maxImageBytes: 600 * 1024 });
  });
  afterEach(async () => {
    await Promise.all(devices.splice(0).map((device) => device.stop()));
  });
  afterAll(async () => {
    await server?.close();
  });

  async function device(options: Partial<SimulatedDeviceOptions> & { endpointName: string }): Promise<SimulatedDevice> {
    const simulated = new SimulatedDevice({ serverUri: server.coapUri, lifetimeSec: 300, retryDelayMs: 0, rebootDelayMs: 20, ...options });
    devices.push(simulated);
    await simulated.register();
    return simulated;
  }

  async function upload(bytes: Buffer, name: string, version: string): Promise<{ status: number; body: any }> {
    const response = await fetch(`${server.baseUrl}/api/firmware?name=${name}&version=${version}&deviceType=sim`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    return { status: response.status, body: await response.json() };
  }

  const api = (method: string, path: string, body?: unknown) => apiRequest(server, method, path, body);


  async function finished(endpoint: string, withinMs = 15_000): Promise<any> {
    const deadline = Date.now() + withinMs;
    for (;;) {
      const { body } = await getJson(`${server.baseUrl}/api/clients/${endpoint}/firmware`);
      if (body.state === 'succeeded' || body.state === 'failed') return body;
      if (Date.now() > deadline) throw new Error(`delivery to ${endpoint} still ${body.state} after ${withinMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it.each(['push', 'pull'] as const)('delivers a 200 KiB image by %s: the device boots it and the record says succeeded', async (method) => {
    const image = buildSimImage({ name: 'app', version: `2.0.${method}`, payload: randomBytes(200 * 1024) });
    const uploaded = await upload(image, 'app', `2.0.${method}`);
    expect(uploaded.status).toBe(201);
    expect(uploaded.body.sizeBytes).toBe(image.length);
    const sim = await device({ endpointName: `fw-${method}`, firmwareVersion: '1.0.0' });
    const events = await openEventStream(`${server.baseUrl}/api/events?ep=fw-${method}`);

    const started = await api('POST', `/api/clients/fw-${method}/firmware`, { firmwareId: uploaded.body.id, method });
    expect(started.status).toBe(202);
    const done = await finished(`fw-${method}`);
    // Operators watching /api/events saw every transition, in order.
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) seen.push((await events.next('FIRMWARE', 2000)).to);
    events.close();
    expect(seen).toEqual(['inspecting', 'transferring', 'downloaded', 'updating', 'verifying', 'succeeded']);

    expect(done.state).toBe('succeeded');
    expect(done.result).toBe(1);
    expect(done.method).toBe(method);
    expect(done.bytes).toBe(image.length);
    expect(done.total).toBe(image.length);
    expect(done.reason).toBeNull();
    expect(done.history.map((h: { to: string }) => h.to)).toEqual(['inspecting', 'transferring', 'downloaded', 'updating', 'verifying', 'succeeded']);
    expect(sim.firmware.running.version).toBe(`2.0.${method}`);
    const snapshot = sim.firmware.snapshot();
    expect(snapshot.active).toBe(1);
    expect(snapshot.slots[1]!.sha256).toBe(image.subarray(10, 42).toString('hex'));
    // The image is no longer hosted once the delivery ended.
    expect(server.firmware.host.size).toBe(0);
  });

  it('answers the repository routes: list, get, 404, 413 over the limit, 409 while in use, delete', async () => {
    const small = buildSimImage({ name: 'lib', version: '0.1', payload: randomBytes(1000) });
    const a = await upload(small, 'lib', '0.1');
    expect((await getJson(`${server.baseUrl}/api/firmware/${a.body.id}`)).body).toMatchObject({ id: a.body.id, name: 'lib', version: '0.1', sizeBytes: small.length, deviceType: 'sim' });
    expect((await getJson(`${server.baseUrl}/api/firmware`)).body.map((i: { id: string }) => i.id)).toContain(a.body.id);
    expect((await getJson(`${server.baseUrl}/api/firmware/nope`)).status).toBe(404);

    const tooBig = await upload(randomBytes(600 * 1024 + 1), 'big', '9');
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.limitBytes).toBe(600 * 1024);

    const missingVersion = await fetch(`${server.baseUrl}/api/firmware?name=x`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: small });
    expect(missingVersion.status).toBe(400);

    // In use: a slow device keeps the delivery open.
    await device({ endpointName: 'fw-busy', firmware: { behaviour: { installMs: 5000 } } });
    const started = await api('POST', '/api/clients/fw-busy/firmware', { firmwareId: a.body.id, method: 'push' });
    expect(started.status).toBe(202);
    expect((await api('DELETE', `/api/firmware/${a.body.id}`)).status).toBe(409);
    expect((await api('POST', '/api/clients/fw-busy/firmware', { firmwareId: a.body.id })).status).toBe(409);
    const cancelled = await api('DELETE', '/api/clients/fw-busy/firmware');
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.state).toBe('failed');
    expect(cancelled.body.outcome).toBe('cancelled');
    expect((await api('DELETE', `/api/firmware/${a.body.id}`)).status).toBe(204);
    expect((await getJson(`${server.baseUrl}/api/firmware/${a.body.id}`)).status).toBe(404);
  });

  it('refuses bad delivery requests: unknown image, unknown device, bad method, no delivery yet', async () => {
    await device({ endpointName: 'fw-bad' });
    expect((await api('POST', '/api/clients/fw-bad/firmware', { firmwareId: 'nope' })).status).toBe(404);
    expect((await api('POST', '/api/clients/ghost/firmware', { firmwareId: 'nope' })).status).toBe(404);
    expect((await api('POST', '/api/clients/fw-bad/firmware', { firmwareId: 'x', method: 'fax' })).status).toBe(400);
    expect((await api('POST', '/api/clients/fw-bad/firmware', {})).status).toBe(400);
    expect((await api('GET', '/api/clients/fw-bad/firmware')).status).toBe(404);
    expect((await api('DELETE', '/api/clients/fw-bad/firmware')).status).toBe(404);
  });

  it('fails with a reason when the device rejects the package (not an image it can install)', async () => {
    const junk = await upload(randomBytes(5000), 'junk', '6.6.6');
    await device({ endpointName: 'fw-junk' });
    await api('POST', '/api/clients/fw-junk/firmware', { firmwareId: junk.body.id, method: 'push' });
    const done = await finished('fw-junk');
    expect(done.state).toBe('failed');
    expect(done.result).toBe(6);
    expect(done.outcome).toBe('unsupported-package');
    expect(done.reason).toContain('Update Result 6');
  });
});
