import { beforeEach, describe, expect, it } from 'vitest';
import { CoapCode, coapCode } from '../../../../src/coap/types.js';
import { ManualClock } from '../../../../src/util/clock.js';
import { loadObjectModel } from '../../../../src/lwm2m/model/registry.js';
import { ContentFormat } from '../../../../src/lwm2m/formats/types.js';
import { Lwm2mServer } from '../../../../src/lwm2m/server/lwm2m-server.js';
import {
  BadDeviceResponseError,
  DeviceErrorResponse,
  DeviceResetError,
  DeviceTimeoutError,
  InvalidRequestError,
  QueueTimeoutError,
  UnknownDeviceError,
} from '../../../../src/lwm2m/server/errors.js';
import type { NotificationEvent } from '../../../../src/lwm2m/server/events.js';
import type { LwM2mNode } from '../../../../src/lwm2m/node.js';
import { coapRequest, DEVICE_A, flush, registerRequest } from './helpers.js';
import { deviceObjects, FakeDevice } from './fake-device.js';

const model = loadObjectModel();

async function setup(query: string[] = ['ep=dev'], payload = '</1/0>,</3/0>,</5/0>') {
  const clock = new ManualClock(1_700_000_000_000);
  const device = new FakeDevice(model, deviceObjects());
  const server = new Lwm2mServer({ coap: device, model, clock });
  const res = await server.handleRequest(registerRequest(query, payload));
  expect(res.code).toBe(CoapCode.Created);
  const notifications: NotificationEvent[] = [];
  server.events.on('notification', (e) => {
    notifications.push(e);
  });
  return { clock, device, server, devices: server.devices, regId: res.locationPath![1], notifications };
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

const BATTERY = { kind: 'singleResource', id: 9, type: 'integer', value: 87 } as const;

describe('DeviceClient read', () => {
  it('reads an instance of a 1.0 device as TLV from its registered address', async () => {
    const { devices, device } = await setup();
    const node = await devices.read('dev', '/3/0');
    expect(device.received.map((r) => [r.remote, r.req.method, r.req.path, r.req.accept])).toEqual([
      [DEVICE_A, 'GET', ['3', '0'], ContentFormat.TLV],
    ]);
    expect(node).toEqual({
      kind: 'instance',
      id: 0,
      resources: [
        { kind: 'singleResource', id: 0, type: 'string', value: 'ACME' },
        { kind: 'singleResource', id: 1, type: 'string', value: 'Sensor-9' },
        { kind: 'multiResource', id: 6, type: 'integer', values: new Map([[0, 1], [1, 5]]) },
        BATTERY,
      ],
    });
  });

  it('reads a 1.1 device as SenML CBOR, and as the format the caller asks for', async () => {
    const { devices, device } = await setup(['ep=dev', 'lwm2m=1.1']);
    expect(await devices.read('dev', '/3/0/9')).toEqual(BATTERY);
    expect(await devices.read('dev', { objectId: 3, instanceId: 0, resourceId: 9 }, { format: ContentFormat.TEXT })).toEqual(BATTERY);
    expect(await devices.read('dev', '/3/0/6/1')).toEqual({ kind: 'resourceInstance', id: 1, type: 'integer', value: 5 });
    expect(device.received.map((r) => r.req.accept)).toEqual([ContentFormat.SENML_CBOR, ContentFormat.TEXT, ContentFormat.SENML_CBOR]);
  });

  it('uses the richest format a 1.1 device announced with ct', async () => {
    const { devices, device } = await setup(['ep=dev', 'lwm2m=1.1'], '</>;rt="oma.lwm2m";ct="0 42 11542 110",</3/0>');
    await devices.read('dev', '/3/0/9');
    expect(device.received[0].req.accept).toBe(ContentFormat.SENML_JSON);
  });

  it('prefixes request paths with the alternate root path', async () => {
    const { devices, device } = await setup(['ep=dev'], '</lwm2m>;rt="oma.lwm2m",</lwm2m/3/0>');
    device.root = ['lwm2m'];
    expect(await devices.read('dev', '/3/0/9')).toEqual(BATTERY);
    expect(device.received[0].req.path).toEqual(['lwm2m', '3', '0', '9']);
  });

  it('throws typed errors', async () => {
    const { devices, device } = await setup();
    const unknown = await failure(devices.read('nobody', '/3/0'));
    expect(unknown).toBeInstanceOf(UnknownDeviceError);
    expect(unknown.message).toBe('no registered device with endpoint "nobody"');

    const notFound = (await failure(devices.read('dev', '/3/0/42'))) as DeviceErrorResponse;
    expect(notFound).toBeInstanceOf(DeviceErrorResponse);
    expect([notFound.code, notFound.codeText, notFound.diagnostic, notFound.path]).toEqual([0x84, '4.04 Not Found', '/3/0/42 not found', '/3/0/42']);
    expect(notFound.message).toBe('device "dev" answered 4.04 Not Found to /3/0/42: /3/0/42 not found');

    device.failures.push('timeout');
    const timeout = await failure(devices.read('dev', '/3/0', { timeoutMs: 5000 }));
    expect(timeout).toBeInstanceOf(DeviceTimeoutError);
    expect(timeout.message).toBe('device "dev" did not answer /3/0 within 5000 ms');
    expect(device.received.at(-1)!.req.timeoutMs).toBe(5000);

    device.failures.push('reset');
    expect(await failure(devices.read('dev', '/3/0'))).toBeInstanceOf(DeviceResetError);

    device.override = () => device.response(coapCode(2, 5), Buffer.from([0xc8, 0x00, 0x09]), ContentFormat.TLV);
    const bad = await failure(devices.read('dev', '/3/0'));
    expect(bad).toBeInstanceOf(BadDeviceResponseError);
    expect(bad.message).toMatch(/^device "dev" sent an unusable answer to \/3\/0: cannot decode format 11542: /);

    const badPath = await failure(devices.read('dev', '/3/x'));
    expect(badPath).toBeInstanceOf(InvalidRequestError);
    expect(badPath.message).toBe('path "/3/x": "x" is not a number');
    expect((await failure(devices.read('dev', '/'))).message).toBe('read needs at least an object id (e.g. /3)');
  });
});

describe('DeviceClient write, execute, create, delete', () => {
  it('replaces a resource with PUT', async () => {
    const { devices, device } = await setup();
    await devices.write('dev', '/5/0/1', { kind: 'singleResource', id: 1, type: 'string', value: 'coap://fw/1.2' }, { mode: 'replace' });
    const sent = device.received[0].req;
    expect([sent.method, sent.path, sent.contentFormat]).toEqual(['PUT', ['5', '0', '1'], ContentFormat.TLV]);
    expect(device.find({ objectId: 5, instanceId: 0, resourceId: 1 })).toEqual({ kind: 'singleResource', id: 1, type: 'string', value: 'coap://fw/1.2' });
  });

  it('updates an instance partially with POST, keeping the other resources', async () => {
    const { devices, device } = await setup(['ep=dev', 'lwm2m=1.1']);
    await devices.write('dev', '/3/0', { kind: 'instance', id: 0, resources: [{ kind: 'singleResource', id: 1, type: 'string', value: 'Sensor-10' }] }, { mode: 'update' });
    const sent = device.received[0].req;
    expect([sent.method, sent.path, sent.contentFormat]).toEqual(['POST', ['3', '0'], ContentFormat.SENML_CBOR]);
    expect(await devices.read('dev', '/3/0/1')).toEqual({ kind: 'singleResource', id: 1, type: 'string', value: 'Sensor-10' });
    expect(await devices.read('dev', '/3/0/0')).toEqual({ kind: 'singleResource', id: 0, type: 'string', value: 'ACME' });
  });

  it('rejects writes that do not fit the path before sending anything', async () => {
    const { devices, device } = await setup();
    const cases: [string, LwM2mNode, 'replace' | 'update', string][] = [
      ['/3', { kind: 'obj', id: 3, instances: [] }, 'replace', 'write needs an instance, resource or resource instance path, not /3'],
      ['/3/0/1', { kind: 'instance', id: 0, resources: [] }, 'replace', '/3/0/1 needs a singleResource or multiResource node, got instance'],
      ['/3/0/1', BATTERY, 'replace', 'node id 9 does not match path /3/0/1'],
      ['/3/0/6/1', BATTERY, 'update', 'a partial update needs an instance or resource path, not /3/0/6/1'],
    ];
    for (const [path, node, mode, message] of cases) {
      const err = await failure(devices.write('dev', path, node, { mode }));
      expect(err).toBeInstanceOf(InvalidRequestError);
      expect(err.message).toBe(message);
    }
    const wrongType = await failure(
      devices.write('dev', '/3/0/9', { kind: 'singleResource', id: 9, type: 'integer', value: 'lots' }, { mode: 'replace' }),
    );
    expect(wrongType).toBeInstanceOf(InvalidRequestError);
    expect(wrongType.message).toMatch(/^cannot encode the value for \/3\/0\/9 as format 11542: /);
    expect(device.received).toEqual([]);
  });

  it('executes with arguments as text', async () => {
    const { devices, device } = await setup();
    await devices.execute('dev', '/5/0/2', "0='now'");
    await devices.execute('dev', '/3/0/4');
    expect(device.executed).toEqual([
      { path: '/5/0/2', args: "0='now'" },
      { path: '/3/0/4', args: '' },
    ]);
    expect(device.received.map((r) => [r.req.method, r.req.contentFormat])).toEqual([
      ['POST', ContentFormat.TEXT],
      ['POST', undefined],
    ]);
    expect((await failure(devices.execute('dev', '/5/0'))).message).toBe('execute needs a resource path, not /5/0');
  });

  it('creates an instance and returns the id from the Location-Path', async () => {
    const { devices, device } = await setup(['ep=dev', 'lwm2m=1.1']);
    const id = await devices.create('dev', '/5', { kind: 'instance', id: 1, resources: [{ kind: 'singleResource', id: 1, type: 'string', value: 'x' }] });
    expect(id).toBe(1);
    expect(device.received[0].req.method).toBe('POST');
    expect(device.received[0].req.path).toEqual(['5']);
    expect(device.find({ objectId: 5, instanceId: 1, resourceId: 1 })).toEqual({ kind: 'singleResource', id: 1, type: 'string', value: 'x' });
    expect((await failure(devices.create('dev', '/5/0', { kind: 'instance', id: 1, resources: [] }))).message).toBe(
      'create needs an object path, not /5/0',
    );
  });

  it('deletes an instance', async () => {
    const { devices, device } = await setup();
    await devices.delete('dev', '/5/0');
    expect(device.received[0].req.method).toBe('DELETE');
    expect(device.find({ objectId: 5, instanceId: 0 })).toBeUndefined();
    const again = (await failure(devices.delete('dev', '/5/0'))) as DeviceErrorResponse;
    expect(again.code).toBe(CoapCode.NotFound);
    expect((await failure(devices.delete('dev', '/5'))).message).toBe('delete needs an object instance path, not /5');
  });
});

describe('DeviceClient discover and write-attributes', () => {
  it('discovers with Accept link-format and parses the links', async () => {
    const { devices, device } = await setup();
    const links = await devices.discover('dev', '/3');
    expect(device.received[0].req.accept).toBe(ContentFormat.LINK);
    expect(links).toEqual([
      { uri: '/3', params: { ver: '1.0' } },
      { uri: '/3/0', params: {} },
      { uri: '/3/0/0', params: {} },
      { uri: '/3/0/1', params: {} },
      { uri: '/3/0/6', params: { dim: '2' } },
      { uri: '/3/0/9', params: {} },
    ]);
    device.override = () => device.response(coapCode(2, 5), Buffer.from('</3'), ContentFormat.LINK);
    expect(await failure(devices.discover('dev', '/3'))).toBeInstanceOf(BadDeviceResponseError);
  });

  it('writes attributes as query parameters only; null removes one', async () => {
    const { devices, device } = await setup();
    await devices.writeAttributes('dev', '/3/0/9', { pmin: 10, pmax: 60, gt: null, st: 0.5 });
    expect(device.attributes).toEqual([{ path: '/3/0/9', query: ['pmin=10', 'pmax=60', 'gt', 'st=0.5'] }]);
    expect(device.received[0].req.method).toBe('PUT');
    expect(device.received[0].req.payload).toBeUndefined();
  });

  it.each([
    [{ pmin: -1 }, 'attribute pmin must be a non-negative integer (seconds), got -1'],
    [{ pmax: 1.5 }, 'attribute pmax must be a non-negative integer (seconds), got 1.5'],
    [{ gt: Number.NaN }, 'attribute gt must be a finite number'],
    [{ st: -2 }, 'attribute st must not be negative, got -2'],
    [{ pmin: 60, pmax: 10 }, 'pmax (10) must not be below pmin (60)'],
    [{}, 'no attribute to write'],
    [{ foo: 1 }, 'unknown attribute "foo" (pmin, pmax, gt, lt, st, epmin, epmax)'],
  ])('rejects %j', async (attrs, message) => {
    const { devices, device } = await setup();
    const err = await failure(devices.writeAttributes('dev', '/3/0/9', attrs as never));
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(err.message).toBe(message);
    expect(device.received).toEqual([]);
  });
});

describe('DeviceClient observe', () => {
  it('observes, emits decoded notifications, lists and cancels the observation', async () => {
    const { devices, device, notifications, clock } = await setup();
    const { observationId, node } = await devices.observe('dev', '/3/0/9');
    expect(node).toEqual(BATTERY);
    expect(observationId).toBe('ab01');
    expect(devices.observations('dev')).toEqual([
      { observationId: 'ab01', endpoint: 'dev', registrationId: expect.any(String), path: '/3/0/9', contentFormat: ContentFormat.TLV, createdAt: clock.now() },
    ]);

    device.setResource(3, 0, { kind: 'singleResource', id: 9, type: 'integer', value: 55 });
    device.notifyAll();
    expect(notifications).toHaveLength(1);
    expect(notifications[0]).toMatchObject({ endpoint: 'dev', observationId: 'ab01', path: '/3/0/9', contentFormat: ContentFormat.TLV });
    expect(notifications[0].node).toEqual({ kind: 'singleResource', id: 9, type: 'integer', value: 55 });
    expect(notifications[0].error).toBeUndefined();

    expect(await devices.cancelObservation('dev', 'ab01')).toBe(true);
    expect(device.observerCount()).toBe(0);
    expect(devices.observations('dev')).toEqual([]);
    expect(await devices.cancelObservation('dev', 'ab01')).toBe(false);
  });

  it('reports an undecodable notification as an event with the error, without crashing', async () => {
    const { devices, device, notifications } = await setup();
    await devices.observe('dev', '/3/0/9');
    device.notifyAll({ payload: Buffer.from([0xff, 0xff]), contentFormat: ContentFormat.TLV });
    expect(notifications).toHaveLength(1);
    expect(notifications[0].node).toBeUndefined();
    expect(notifications[0].error).toBeInstanceOf(BadDeviceResponseError);
    expect(notifications[0].payload).toEqual(Buffer.from([0xff, 0xff]));
    expect(devices.observations('dev')).toHaveLength(1);
  });

  it('ends the observation on an error notification', async () => {
    const { devices, device, notifications } = await setup();
    await devices.observe('dev', '/3/0/9');
    device.notifyAll({ payload: Buffer.from('gone'), code: CoapCode.NotFound });
    expect(notifications[0].error).toBeInstanceOf(DeviceErrorResponse);
    expect(devices.observations('dev')).toEqual([]);
    device.notifyAll();
    expect(notifications).toHaveLength(1);
  });

  it('forgets observations when the device deregisters', async () => {
    const { devices, server, device, notifications, regId } = await setup();
    await devices.observe('dev', '/3/0/9');
    await server.handleRequest(coapRequest('DELETE', ['rd', regId]));
    expect(devices.observations('dev')).toEqual([]);
    device.notifyAll();
    expect(notifications).toEqual([]);
  });

  it('fails with the device error when it refuses the observation', async () => {
    const { devices } = await setup();
    const err = (await failure(devices.observe('dev', '/3/0/77'))) as DeviceErrorResponse;
    expect(err).toBeInstanceOf(DeviceErrorResponse);
    expect(err.code).toBe(CoapCode.NotFound);
  });
});

describe('DeviceClient composite operations', () => {
  it('reads several paths with one FETCH in SenML CBOR', async () => {
    const { devices, device } = await setup(['ep=dev', 'lwm2m=1.1']);
    const nodes = await devices.compositeRead('dev', ['/3/0/9', '/5/0/3']);
    const sent = device.received[0].req;
    expect([sent.method, sent.path, sent.contentFormat, sent.accept]).toEqual(['FETCH', [], ContentFormat.SENML_CBOR, ContentFormat.SENML_CBOR]);
    expect([...nodes]).toEqual([
      ['/3/0/9', BATTERY],
      ['/5/0/3', { kind: 'singleResource', id: 3, type: 'integer', value: 0 }],
    ]);
  });

  it('refuses composite operations for a 1.0 device', async () => {
    const { devices, device } = await setup();
    const err = await failure(devices.compositeRead('dev', ['/3/0/9']));
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(err.message).toBe('composite read needs LwM2M 1.1 or later; device "dev" registered with LwM2M 1.0');
    expect((await failure(devices.compositeRead('dev', ['/3/0/9'], { format: ContentFormat.TLV }))).message).toBe(
      'composite read needs LwM2M 1.1 or later; device "dev" registered with LwM2M 1.0',
    );
    expect(device.received).toEqual([]);
  });

  it('refuses a format that cannot carry several paths', async () => {
    const { devices } = await setup(['ep=dev', 'lwm2m=1.1']);
    expect((await failure(devices.compositeRead('dev', ['/3/0/9'], { format: ContentFormat.TLV }))).message).toBe(
      'content format 11542 cannot carry a composite read (use SenML JSON/CBOR or LwM2M CBOR)',
    );
  });

  it('observes several paths and emits the decoded map', async () => {
    const { devices, device, notifications } = await setup(['ep=dev', 'lwm2m=1.2']);
    const { observationId, nodes } = await devices.compositeObserve('dev', ['/3/0/9', '/5/0/3']);
    expect([...nodes.keys()]).toEqual(['/3/0/9', '/5/0/3']);
    device.setResource(5, 0, { kind: 'singleResource', id: 3, type: 'integer', value: 2 });
    device.notifyAll();
    expect(notifications).toHaveLength(1);
    expect(notifications[0].observationId).toBe(observationId);
    expect(notifications[0].path).toBe('/3/0/9,/5/0/3');
    expect(notifications[0].nodes!.get('/5/0/3')).toEqual({ kind: 'singleResource', id: 3, type: 'integer', value: 2 });
    expect(devices.observations('dev')[0].paths).toEqual(['/3/0/9', '/5/0/3']);
  });
});

describe('Send (POST /dp)', () => {
  let ctx: Awaited<ReturnType<typeof setup>>;
  beforeEach(async () => {
    ctx = await setup(['ep=dev', 'lwm2m=1.1']);
  });

  it('decodes SenML JSON from a registered sender, emits send and answers 2.04', async () => {
    const seen: unknown[] = [];
    ctx.server.events.on('send', (e) => {
      seen.push({ endpoint: e.endpoint, nodes: e.nodes });
    });
    const payload = JSON.stringify([{ bn: '/3/0/', bt: 1_700_000_000, n: '9', v: 42 }]);
    const res = await ctx.server.handleRequest(coapRequest('POST', ['dp'], { payload, contentFormat: ContentFormat.SENML_JSON }));
    expect(res.code).toBe(CoapCode.Changed);
    expect(seen).toEqual([
      { endpoint: 'dev', nodes: [{ timestamp: 1_700_000_000_000, path: '/3/0/9', node: { kind: 'singleResource', id: 9, type: 'integer', value: 42 } }] },
    ]);
  });

  it.each([
    [{ remote: { address: '10.9.9.9', port: 1 }, contentFormat: 110, payload: '[]' }, '4.03', 'no registration for sender 10.9.9.9:1; register before Send'],
    [{ payload: '[]' }, '4.00', 'Send needs a Content-Format (SenML JSON, SenML CBOR or LwM2M CBOR)'],
    [{ payload: '42', contentFormat: 0 }, '4.15', 'content format 0 cannot carry Send data (use SenML JSON 110, SenML CBOR 112 or LwM2M CBOR 11544)'],
  ])('refuses %j with %s', async (options, code, reason) => {
    const res = await ctx.server.handleRequest(coapRequest('POST', ['dp'], options));
    expect([`${res.code >> 5}.${String(res.code & 0x1f).padStart(2, '0')}`, res.payload?.toString()]).toEqual([code, reason]);
  });

  it('answers 4.00 with the decoder reason for a bad payload', async () => {
    const res = await ctx.server.handleRequest(coapRequest('POST', ['dp'], { payload: '{', contentFormat: ContentFormat.SENML_JSON }));
    expect(res.code).toBe(CoapCode.BadRequest);
    expect(res.payload!.toString()).toMatch(/^undecodable Send payload: ./);
  });
});

describe('queue mode through DeviceClient', () => {
  it('waits while the device sleeps and sends on its next update, in order', async () => {
    const { devices, device, server, clock, regId } = await setup(['ep=q', 'lwm2m=1.1', 'Q', 'lt=3600']);
    server.start();
    clock.advance(93_000);
    expect(server.presence('q')).toBe('sleeping');
    const first = devices.read('q', '/3/0/9');
    const second = devices.write('q', '/5/0/1', { kind: 'singleResource', id: 1, type: 'string', value: 'u' }, { mode: 'replace' });
    await flush();
    expect(device.received).toEqual([]);
    expect(server.queuedRequests('q').map((r) => [r.kind, r.target, r.request.method])).toEqual([
      ['request', '/3/0/9', 'GET'],
      ['request', '/5/0/1', 'PUT'],
    ]);
    // The device wakes from a new address.
    await server.handleRequest(coapRequest('POST', ['rd', regId], { remote: { address: '10.0.0.1', port: 6000 } }));
    expect(await first).toEqual(BATTERY);
    await second;
    expect(device.received.map((r) => [r.remote.port, r.req.method])).toEqual([
      [6000, 'GET'],
      [6000, 'PUT'],
    ]);
    await server.close();
  });

  it('times out with the caller timeout while the device sleeps', async () => {
    const { devices, device, server, clock } = await setup(['ep=q', 'lwm2m=1.1', 'Q']);
    server.start();
    clock.advance(93_000);
    const read = failure(devices.read('q', '/3/0/9', { timeoutMs: 30_000 }));
    await flush();
    clock.advance(30_000);
    const err = await read;
    expect(err).toBeInstanceOf(QueueTimeoutError);
    expect(err.message).toBe('device "q" stayed asleep; request /3/0/9 was not sent within 30000 ms');
    expect(device.received).toEqual([]);
    await server.close();
  });

  it('puts the device to sleep when it stops answering, keeping the rest queued', async () => {
    const { devices, device, server, regId } = await setup(['ep=q', 'lwm2m=1.1', 'Q']);
    device.failures.push('timeout');
    const first = failure(devices.read('q', '/3/0/9'));
    const second = devices.read('q', '/3/0/0');
    expect(await first).toBeInstanceOf(DeviceTimeoutError);
    await flush();
    expect(server.presence('q')).toBe('sleeping');
    expect(device.received).toHaveLength(1);
    await server.handleRequest(coapRequest('POST', ['rd', regId]));
    expect(await second).toEqual({ kind: 'singleResource', id: 0, type: 'string', value: 'ACME' });
  });
});
