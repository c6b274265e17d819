/**
 * The whole stack over real sockets: simulated devices register with the real server, and an
 * operator drives them through the HTTP API (read, write, execute, attributes, observe, queue
 * mode, expiry).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedDevice, type SimulatedDeviceOptions } from '../../simulators/device/index.js';
import { api as apiRequest, startTestServer, getJson, type TestServer } from '../helpers/in-process-server.js';
import { openEventStream } from '../helpers/sse.js';

describe('simulated devices driven through the HTTP API', () => {
  let server: TestServer;
  const devices: SimulatedDevice[] = [];

  beforeAll(async () => {
    server = await startTestServer({ queueAwakeTimeSec: 1, expiryGraceSec: 1 });
  });
  afterEach(async () => {
    await Promise.all(devices.splice(0).map((device) => device.stop()));
  });
  afterAll(async () => {
    await server?.close();
  });

  async function device(options: Partial<SimulatedDeviceOptions> & { endpointName: string }): Promise<SimulatedDevice> {
    const simulated = new SimulatedDevice({ serverUri: server.coapUri, lifetimeSec: 300, retryDelayMs: 0, ...options });
    devices.push(simulated);
    await simulated.register();
    return simulated;
  }

  /** The server's awake window (1 s here) runs out without news from the device. */
  async function serverSeesSleeping(endpoint: string): Promise<void> {
    if ((await getJson(`${server.baseUrl}/api/clients/${endpoint}`)).body.sleeping === true) return;
    const events = await openEventStream(`${server.baseUrl}/api/events?ep=${endpoint}`);
    try {
      if ((await getJson(`${server.baseUrl}/api/clients/${endpoint}`)).body.sleeping === true) return;
      const sleeping = await events.next('SLEEPING', 5000);
      expect(sleeping.ep).toBe(endpoint);
    } finally {
      events.close();
    }
  }

  const api = (method: string, path: string, body?: unknown) => apiRequest(server, method, path, body);


  it('lists a registered device with what it announced', async () => {
    const sim = await device({ endpointName: 'it-list', lwm2mVersion: '1.1' });
    const { status, body } = await getJson(`${server.baseUrl}/api/clients/it-list`);
    expect(status).toBe(200);
    expect(body.endpoint).toBe('it-list');
    expect(body.lwM2mVersion).toBe('1.1');
    expect(body.lifetime).toBe(300);
    expect(body.address).toBe(`127.0.0.1:${sim.address().port}`);
    expect(body.objectLinks.map((l: { url: string }) => l.url)).toEqual(expect.arrayContaining(['/1/0', '/3/0', '/4/0', '/5/0']));
  });

  it('reads a resource (SenML CBOR for 1.1) and a whole instance (TLV for 1.0)', async () => {
    await device({ endpointName: 'it-read-11', lwm2mVersion: '1.1' });
    await device({ endpointName: 'it-read-10', lwm2mVersion: '1.0' });

    const manufacturer = await api('GET', '/api/clients/it-read-11/3/0/0');
    expect(manufacturer.status).toBe(200);
    expect(manufacturer.body.success).toBe(true);
    expect(manufacturer.body.content).toEqual({ id: 0, kind: 'singleResource', type: 'STRING', value: 'Open Mobile Alliance Sim' });

    const instance = await api('GET', '/api/clients/it-read-10/3/0?format=TLV');
    expect(instance.status).toBe(200);
    expect(instance.body.content.kind).toBe('instance');
    const resources = new Map<number, any>(instance.body.content.resources.map((r: { id: number }) => [r.id, r]));
    expect(resources.get(1)).toEqual({ id: 1, kind: 'singleResource', type: 'STRING', value: 'LwM2M-Sim-1' });
    expect(resources.get(7)).toEqual({ id: 7, kind: 'multiResource', type: 'INTEGER', values: { '0': '3800', '1': '5000' } });
  });

  it('writes a resource and reads the new value back, in each content format', async () => {
    await device({ endpointName: 'it-write', lwm2mVersion: '1.2' });
    for (const [format, offset] of [['TLV', '+02:00'], ['SENML_JSON', '-03:30'], ['SENML_CBOR', '+05:45'], ['LWM2M_CBOR', '+09:00'], ['TEXT', '+00:00']]) {
      const write = await api('PUT', `/api/clients/it-write/3/0/14?format=${format}`, { id: 14, kind: 'singleResource', type: 'string', value: offset });
      expect(write.status, format).toBe(200);
      expect(write.body.status).toBe('CHANGED(204)');
      const read = await api('GET', `/api/clients/it-write/3/0/14?format=${format}`);
      expect(read.body.content.value, format).toBe(offset);
    }
  });

  it('relays the device refusing a bad value as 502 with the CoAP code', async () => {
    await device({ endpointName: 'it-bad-value' });
    const write = await api('PUT', '/api/clients/it-bad-value/3/0/14', { value: 'not an offset' });
    expect(write.status).toBe(502);
    expect(write.body.coapCode).toBe('4.00');
  });

  it('executes Reboot: the device re-registers', async () => {
    const sim = await device({ endpointName: 'it-reboot', rebootDelayMs: 50 });
    const reregistered = new Promise<void>((resolve) => sim.once('rebooting', () => sim.once('registered', () => resolve())));
    const execute = await api('POST', '/api/clients/it-reboot/3/0/4');
    expect(execute.status).toBe(200);
    expect(execute.body.status).toBe('CHANGED(204)');
    await reregistered;
    expect((await getJson(`${server.baseUrl}/api/clients/it-reboot`)).status).toBe(200);
  });

  it('observes with pmax=1: notifications arrive as server-sent events, and cancel stops them', async () => {
    const sim = await device({ endpointName: 'it-observe', observeCheckIntervalMs: 100 });
    const attributes = await api('PUT', '/api/clients/it-observe/3/0/9/attributes?pmax=1');
    expect(attributes.status).toBe(200);

    const events = await openEventStream(`${server.baseUrl}/api/events?ep=it-observe`);
    try {
      const observe = await api('POST', '/api/clients/it-observe/3/0/9/observe');
      expect(observe.status).toBe(200);
      expect(observe.body.content.id).toBe(9);
      expect(observe.body.content.type).toBe('INTEGER');
      expect(sim.observationCount).toBe(1);

      const notification = await events.next('NOTIFICATION', 5000);
      expect(notification.ep).toBe('it-observe');
      expect(notification.res).toBe('/3/0/9');
      expect(notification.val.id).toBe(9);

      const cancel = await api('DELETE', '/api/clients/it-observe/3/0/9/observe');
      expect(cancel.status).toBe(200);
      expect(sim.observationCount).toBe(0);
    } finally {
      events.close();
    }
  });

  it('holds requests for a sleeping queue-mode device until it wakes, then sends them in order', async () => {
    const sim = await device({ endpointName: 'it-queue', lwm2mVersion: '1.1', queueMode: true, queueCycle: false });
    sim.sleep();
    await serverSeesSleeping('it-queue');
    expect((await getJson(`${server.baseUrl}/api/clients/it-queue`)).body.sleeping).toBe(true);

    const seen: string[] = [];
    sim.on('requestReceived', (request) => seen.push(`${request.method} ${request.path}`));
    const write = api('PUT', '/api/clients/it-queue/3/0/15?timeout=20', { value: 'Asia/Tokyo' });
    const read = api('GET', '/api/clients/it-queue/3/0/15?timeout=20');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(seen).toEqual([]);

    await sim.wake();
    expect((await write).status).toBe(200);
    expect((await read).body.content.value).toBe('Asia/Tokyo');
    expect(seen).toEqual(['PUT /3/0/15', 'GET /3/0/15']);
  });

  it('answers 504 when a sleeping device does not wake within the caller\'s timeout', async () => {
    const sim = await device({ endpointName: 'it-queue-timeout', lwm2mVersion: '1.1', queueMode: true, queueCycle: false });
    sim.sleep();
    await serverSeesSleeping('it-queue-timeout');
    const read = await api('GET', '/api/clients/it-queue-timeout/3/0/0?timeout=1');
    expect(read.status).toBe(504);
  });

  it('forgets a device whose lifetime runs out, with an EXPIRED event', async () => {
    const sim = await device({ endpointName: 'it-expire', lifetimeSec: 1 });
    const events = await openEventStream(`${server.baseUrl}/api/events?ep=it-expire`);
    try {
      await sim.powerCut();
      const expired = await events.next('EXPIRED', 6000);
      expect(expired.endpoint).toBe('it-expire');
      expect((await getJson(`${server.baseUrl}/api/clients/it-expire`)).status).toBe(404);
    } finally {
      events.close();
    }
  });

  it('answers 404 for an unknown device', async () => {
    const read = await api('GET', '/api/clients/nobody/3/0/0');
    expect(read.status).toBe(404);
    expect(read.body.error).toBe('unknown device');
  });
});
