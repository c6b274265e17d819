import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CoapCode, CoapTimeoutError, type IncomingResponse } from '../../../src/coap/types.js';
import { ContentFormat, decodeNode, multiCodecFor } from '../../../src/lwm2m/formats/index.js';
import { loadObjectModel } from '../../../src/lwm2m/model/registry.js';
import type { ObjectInstance, SingleResource } from '../../../src/lwm2m/node.js';
import { SimulatedDevice, type SimulatedDeviceOptions } from '../../../simulators/device/index.js';
import { seedFrom } from '../../../simulators/device/objects/context.js';
import { isRegister, isUpdate, LOCATION, startPeer, type TestPeer } from './peer.js';

const model = loadObjectModel();

describe('SimulatedDevice', () => {
  let peer: TestPeer;
  const devices: SimulatedDevice[] = [];

  beforeEach(async () => {
    peer = await startPeer();
  });

  afterEach(async () => {
    await Promise.all(devices.splice(0).map((device) => device.stop()));
    await peer.close();
  });

  async function registeredDevice(options: Partial<SimulatedDeviceOptions> = {}): Promise<SimulatedDevice> {
    const device = new SimulatedDevice({ endpointName: 'sim-test-1', serverUri: peer.uri, lifetimeSec: 60, retryDelayMs: 0, ...options });
    devices.push(device);
    await device.register();
    return device;
  }

  const get = (device: SimulatedDevice, path: string, accept?: number): Promise<IncomingResponse> =>
    peer.endpoint.request(device.address(), { method: 'GET', path: path.split('/').filter(Boolean), accept });

  const resourceValue = (instance: ObjectInstance, id: number): unknown =>
    (instance.resources.find((r) => r.id === id) as SingleResource | undefined)?.value;

  it('registers with the exact query and link payload (1.1)', async () => {
    const device = await registeredDevice();
    const request = await peer.waitFor(isRegister);
    expect(request.query).toEqual(['ep=sim-test-1', 'lt=60', 'lwm2m=1.1', 'b=U']);
    expect(request.contentFormat).toBe(ContentFormat.LINK);
    expect(request.payload.toString()).toBe('</>;rt="oma.lwm2m";ct=112,</1/0>,</3/0>,</4/0>,</5/0>');
    expect(device.state).toBe('registered');
    expect(device.registrationLocation).toBe('/rd/r1');
  });

  it('registers a 1.0 queue-mode device with b=UQ and a plain link list', async () => {
    await registeredDevice({ lwm2mVersion: '1.0', queueMode: true, queueCycle: false });
    const request = await peer.waitFor(isRegister);
    expect(request.query).toEqual(['ep=sim-test-1', 'lt=60', 'lwm2m=1.0', 'b=UQ']);
    expect(request.payload.toString()).toBe('</1/0>,</3/0>,</4/0>,</5/0>');
  });

  it('announces queue mode with Q from 1.1 on, and deregisters on stop', async () => {
    const device = await registeredDevice({ lwm2mVersion: '1.2', queueMode: true, queueCycle: false });
    expect((await peer.waitFor(isRegister)).query).toEqual(['ep=sim-test-1', 'lt=60', 'lwm2m=1.2', 'b=U', 'Q']);
    await device.stop();
    const deregistration = await peer.waitFor((r) => r.method === 'DELETE');
    expect(deregistration.path).toEqual(LOCATION);
    expect(device.state).toBe('stopped');
  });

  it('answers a TLV read of the Device instance with its exact values', async () => {
    const device = await registeredDevice();
    const response = await get(device, '/3/0', ContentFormat.TLV);
    expect(response.code).toBe(CoapCode.Content);
    expect(response.contentFormat).toBe(ContentFormat.TLV);
    const instance = decodeNode(ContentFormat.TLV, response.payload, { objectId: 3, instanceId: 0 }, model) as ObjectInstance;
    expect(instance.kind).toBe('instance');
    expect(resourceValue(instance, 0)).toBe('Open Mobile Alliance Sim');
    expect(resourceValue(instance, 1)).toBe('LwM2M-Sim-1');
    expect(resourceValue(instance, 2)).toBe(`SN${seedFrom('sim-test-1').toString(16).padStart(8, '0').toUpperCase()}`);
    expect(resourceValue(instance, 3)).toBe('1.0.0');
    expect(resourceValue(instance, 16)).toBe('UQ');
    expect(resourceValue(instance, 21)).toBe(512);
    const powerSources = instance.resources.find((r) => r.id === 6);
    expect(powerSources?.kind === 'multiResource' ? [...powerSources.values] : undefined).toEqual([
      [0, 1],
      [1, 5],
    ]);
    // Executables are not part of a read.
    expect(instance.resources.some((r) => r.id === 4)).toBe(false);
  });

  it('answers a SenML JSON read of one resource', async () => {
    const device = await registeredDevice();
    const response = await get(device, '/3/0/0', ContentFormat.SENML_JSON);
    expect(response.contentFormat).toBe(ContentFormat.SENML_JSON);
    const node = decodeNode(ContentFormat.SENML_JSON, response.payload, { objectId: 3, instanceId: 0, resourceId: 0 }, model);
    expect(node).toEqual({ kind: 'singleResource', id: 0, type: 'string', value: 'Open Mobile Alliance Sim' });
    const server = await get(device, '/1/0/1', ContentFormat.SENML_JSON);
    const lifetime = decodeNode(ContentFormat.SENML_JSON, server.payload, { objectId: 1, instanceId: 0, resourceId: 1 }, model);
    expect(lifetime).toEqual({ kind: 'singleResource', id: 1, type: 'unsigned', value: 60 });
  });

  it('writes then reads back, and refuses what a device refuses', async () => {
    const device = await registeredDevice();
    const put = (path: string, text: string) =>
      peer.endpoint.request(device.address(), {
        method: 'PUT',
        path: path.split('/').filter(Boolean),
        payload: Buffer.from(text),
        contentFormat: ContentFormat.TEXT,
      });
    expect((await put('/3/0/14', '+05:30')).code).toBe(CoapCode.Changed);
    const read = await get(device, '/3/0/14', ContentFormat.TEXT);
    expect(read.payload.toString()).toBe('+05:30');
    expect((await put('/3/0/0', 'Other')).code).toBe(CoapCode.MethodNotAllowed);
    expect((await put('/3/0/14', 'noon')).code).toBe(CoapCode.BadRequest);
    expect((await get(device, '/3/0/99')).code).toBe(CoapCode.NotFound);
    expect((await get(device, '/77')).code).toBe(CoapCode.NotFound);
    expect((await get(device, '/3/0/4')).code).toBe(CoapCode.MethodNotAllowed);
    expect((await get(device, '/3/0', ContentFormat.TEXT)).code).toBe(CoapCode.NotAcceptable);
  });

  it('executes Reboot: answers 2.04, then registers again', async () => {
    const device = await registeredDevice({ rebootDelayMs: 20 });
    const rebooting = new Promise<void>((resolve) => device.once('rebooting', () => resolve()));
    const response = await peer.endpoint.request(device.address(), { method: 'POST', path: ['3', '0', '4'] });
    expect(response.code).toBe(CoapCode.Changed);
    await rebooting;
    const second = await peer.waitFor(isRegister, peer.requests.indexOf(await peer.waitFor(isRegister)) + 1);
    expect(second.query[0]).toBe('ep=sim-test-1');
    await new Promise<void>((resolve) => (device.state === 'registered' ? resolve() : device.once('registered', () => resolve())));
    expect(device.state).toBe('registered');
  });

  for (const confirmable of [false, true]) {
    it(`sends ${confirmable ? 'CON' : 'NON'} observe notifications with increasing sequence numbers on change`, async () => {
      const device = await registeredDevice({ observeCheckIntervalMs: 50, confirmableNotifications: confirmable });
      const notifications: IncomingResponse[] = [];
      let arrived: () => void = () => {};
      const observation = await peer.endpoint.observe(
        device.address(),
        { method: 'GET', path: ['3', '0', '14'], accept: ContentFormat.TEXT },
        (notification) => {
          notifications.push(notification);
          if (notifications.length === 2) arrived();
        },
      );
      expect(observation.first.payload.toString()).toBe('+01:00');
      expect(typeof observation.first.observe).toBe('number');
      const twoArrived = new Promise<void>((resolve) => (arrived = resolve));
      for (const value of ['+02:00', '+03:00']) {
        await peer.endpoint.request(device.address(), {
          method: 'PUT',
          path: ['3', '0', '14'],
          payload: Buffer.from(value),
          contentFormat: ContentFormat.TEXT,
        });
      }
      await twoArrived;
      expect(notifications.map((n) => n.payload.toString())).toEqual(['+02:00', '+03:00']);
      expect(notifications.map((n) => n.message.type)).toEqual(confirmable ? ['CON', 'CON'] : ['NON', 'NON']);
      const sequences = [observation.first.observe as number, ...notifications.map((n) => n.observe as number)];
      expect(sequences[1]).toBeGreaterThan(sequences[0]);
      expect(sequences[2]).toBeGreaterThan(sequences[1]);
      expect(device.observationCount).toBe(1);
      await observation.cancel();
      expect(device.observationCount).toBe(0);
    });
  }

  it('notifies an unchanged value once pmax has passed', async () => {
    const device = await registeredDevice({ observeCheckIntervalMs: 50 });
    await peer.endpoint.request(device.address(), { method: 'PUT', path: ['3', '0', '21'], query: ['pmax=1'] });
    const startedAt = Date.now();
    let arrived: (n: IncomingResponse) => void = () => {};
    const first = new Promise<IncomingResponse>((resolve) => (arrived = resolve));
    const observation = await peer.endpoint.observe(
      device.address(),
      { method: 'GET', path: ['3', '0', '21'], accept: ContentFormat.TEXT },
      (n) => arrived(n),
    );
    const notification = await first;
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(950);
    expect(notification.payload.toString()).toBe('512');
    expect(notification.observe).toBeGreaterThan(observation.first.observe as number);
    await observation.cancel();
  });

  it('queue mode: does not answer while asleep, and sends an update on wake', async () => {
    const device = await registeredDevice({ queueMode: true, queueCycle: false });
    device.sleep();
    expect(device.state).toBe('sleeping');
    const beforeWake = peer.requests.length;
    await expect(
      peer.endpoint.request(device.address(), { method: 'GET', path: ['3', '0', '0'], timeoutMs: 300 }),
    ).rejects.toBeInstanceOf(CoapTimeoutError);
    expect(device.datagramsDroppedAsleep).toBeGreaterThanOrEqual(1);
    await device.wake();
    const update = await peer.waitFor(isUpdate, beforeWake);
    expect(update.query).toEqual([]);
    expect(device.state).toBe('registered');
    expect((await get(device, '/3/0/0', ContentFormat.TEXT)).payload.toString()).toBe('Open Mobile Alliance Sim');
  });

  it('discovers an instance with dim on multiple resources and written attributes', async () => {
    const device = await registeredDevice();
    const attributes = await peer.endpoint.request(device.address(), {
      method: 'PUT',
      path: ['3', '0', '9'],
      query: ['pmin=10', 'pmax=60'],
    });
    expect(attributes.code).toBe(CoapCode.Changed);
    const response = await get(device, '/3/0', ContentFormat.LINK);
    const links = response.payload.toString().split(',');
    expect(links.slice(0, 3)).toEqual(['</3/0>', '</3/0/0>', '</3/0/1>']);
    expect(links).toContain('</3/0/6>;dim=2');
    expect(links).toContain('</3/0/9>;pmin=10;pmax=60');
    const bad = await peer.endpoint.request(device.address(), { method: 'PUT', path: ['3', '0', '9'], query: ['pmin=soon'] });
    expect(bad.code).toBe(CoapCode.BadRequest);
  });

  it('answers a composite read (FETCH) and sends data to /dp', async () => {
    const device = await registeredDevice();
    const senml = multiCodecFor(ContentFormat.SENML_JSON)!;
    const response = await peer.endpoint.request(device.address(), {
      method: 'FETCH',
      path: [],
      payload: senml.encodePaths([{ objectId: 3, instanceId: 0, resourceId: 0 }, { objectId: 1, instanceId: 0, resourceId: 1 }]),
      contentFormat: ContentFormat.SENML_JSON,
      accept: ContentFormat.SENML_JSON,
    });
    expect(response.code).toBe(CoapCode.Content);
    const nodes = senml.decodeNodes(response.payload, model);
    expect([...nodes.keys()].sort()).toEqual(['/1/0/1', '/3/0/0']);
    expect((nodes.get('/1/0/1') as SingleResource).value).toBe(60);

    await device.sendData(['/3/0/0']);
    const send = await peer.waitFor((r) => r.path.join('/') === 'dp');
    expect(send.contentFormat).toBe(ContentFormat.SENML_CBOR);
    const sent = multiCodecFor(ContentFormat.SENML_CBOR)!.decodeNodes(send.payload, model);
    expect((sent.get('/3/0/0') as SingleResource).value).toBe('Open Mobile Alliance Sim');
  });

  it('writing the lifetime sends an update carrying the new lt', async () => {
    const device = await registeredDevice();
    const before = peer.requests.length;
    const write = await peer.endpoint.request(device.address(), {
      method: 'PUT',
      path: ['1', '0', '1'],
      payload: Buffer.from('120'),
      contentFormat: ContentFormat.TEXT,
    });
    expect(write.code).toBe(CoapCode.Changed);
    const update = await peer.waitFor(isUpdate, before);
    expect(update.query).toEqual(['lt=120']);
    expect(device.state).toBe('registered');
  });

  it('registers again when an update is answered 4.04', async () => {
    const device = await registeredDevice();
    peer.answerWith(isUpdate, { code: CoapCode.NotFound });
    await expect(device.update()).rejects.toThrow(/no longer knows/);
    expect(device.state).toBe('unregistered');
    await device.register();
    expect(peer.requests.filter(isRegister)).toHaveLength(2);
  });
});
