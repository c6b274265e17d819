import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { CoapCode } from '../../../src/coap/types.js';
import { ContentFormat } from '../../../src/lwm2m/formats/types.js';
import { createHarness, START, type Harness } from './harness.js';

let h: Harness;
let regId: string;

const DEVICE_INSTANCE = {
  kind: 'instance' as const,
  id: 0,
  resources: [
    { kind: 'singleResource' as const, id: 0, type: 'string' as const, value: 'ACME' },
    { kind: 'multiResource' as const, id: 7, type: 'integer' as const, values: new Map([[0, 3800], [1, 5000]]) },
    { kind: 'singleResource' as const, id: 13, type: 'time' as const, value: new Date(1_600_000_000_000) },
  ],
};

beforeEach(async () => {
  h = createHarness();
  h.device.set(3, structuredClone(DEVICE_INSTANCE));
  h.device.set(1, {
    kind: 'instance',
    id: 0,
    resources: [
      { kind: 'singleResource', id: 0, type: 'integer', value: 1 },
      { kind: 'singleResource', id: 1, type: 'integer', value: 86400 },
      { kind: 'singleResource', id: 6, type: 'boolean', value: false },
      { kind: 'singleResource', id: 7, type: 'string', value: 'U' },
    ],
  });
  regId = await h.register('dev1');
});

afterEach(async () => {
  await h.close();
});

const inject = (method: 'GET' | 'PUT' | 'POST' | 'DELETE', url: string, payload?: unknown, contentType?: string) =>
  h.app.inject({
    method,
    url,
    ...(payload !== undefined
      ? { payload: typeof payload === 'string' ? payload : JSON.stringify(payload), headers: { 'content-type': contentType ?? 'application/json' } }
      : {}),
  });

describe('GET /api/clients', () => {
  const registrationJson = () => ({
    endpoint: 'dev1',
    registrationId: regId,
    registrationDate: START,
    lastUpdate: START,
    address: '192.0.2.7:56830',
    lwM2mVersion: '1.1',
    lifetime: 300,
    bindingMode: 'U',
    rootPath: '/',
    objectLinks: [
      { url: '/1/0', attributes: {} },
      { url: '/3/0', attributes: {} },
      { url: '/9990/0', attributes: {} },
    ],
    secure: false,
    additionalRegistrationAttributes: {},
    queuemode: false,
    availableInstances: { '1': [0], '3': [0], '9990': [0] },
  });

  it('lists registrations as Leshan shows them', async () => {
    const res = await inject('GET', '/api/clients');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual([registrationJson()]);
  });

  it('shows one registration, and 404 for an unknown endpoint', async () => {
    expect((await inject('GET', '/api/clients/dev1')).json()).toEqual(registrationJson());
    const res = await inject('GET', '/api/clients/nobody');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'unknown device', detail: 'no registered device with endpoint "nobody"' });
  });

  it('shows queue mode, sleeping, link attributes and the root path', async () => {
    await h.register('q1', { query: ['lt=600', 'lwm2m=1.1', 'b=U', 'Q'], links: '</lwm2m>;rt="oma.lwm2m",</lwm2m/3/0>,</lwm2m/5>;ver=1.1', port: 40000 });
    const awake = (await inject('GET', '/api/clients/q1')).json();
    expect(awake).toMatchObject({
      queuemode: true,
      sleeping: false,
      rootPath: '/lwm2m',
      objectLinks: [
        { url: '/lwm2m', attributes: { rt: 'oma.lwm2m' } },
        { url: '/lwm2m/3/0', attributes: {} },
        { url: '/lwm2m/5', attributes: { ver: '1.1' } },
      ],
      availableInstances: { '3': [0] },
    });
    h.clock.advance(94_000);
    h.lwm2m.sweep();
    expect((await inject('GET', '/api/clients/q1')).json().sleeping).toBe(true);
  });
});

describe('read', () => {
  it('reads a single resource, a multiple resource, a resource instance, an instance and an object', async () => {
    const envelope = (content: unknown) => ({ status: 'CONTENT(205)', valid: true, success: true, failure: false, content });
    expect((await inject('GET', '/api/clients/dev1/3/0/0')).json()).toEqual(envelope({ id: 0, kind: 'singleResource', type: 'STRING', value: 'ACME' }));
    expect((await inject('GET', '/api/clients/dev1/3/0/7')).json()).toEqual(
      envelope({ id: 7, kind: 'multiResource', type: 'INTEGER', values: { '0': '3800', '1': '5000' } }),
    );
    expect((await inject('GET', '/api/clients/dev1/3/0/7/1')).json()).toEqual(envelope({ id: 1, kind: 'resourceInstance', type: 'INTEGER', value: '5000' }));
    const instance = {
      id: 0,
      kind: 'instance',
      resources: [
        { id: 0, kind: 'singleResource', type: 'STRING', value: 'ACME' },
        { id: 7, kind: 'multiResource', type: 'INTEGER', values: { '0': '3800', '1': '5000' } },
        { id: 13, kind: 'singleResource', type: 'TIME', value: 1_600_000_000_000 },
      ],
    };
    expect((await inject('GET', '/api/clients/dev1/3/0')).json()).toEqual(envelope(instance));
    expect((await inject('GET', '/api/clients/dev1/3')).json()).toEqual(envelope({ id: 3, kind: 'obj', instances: [instance] }));
  });

  it('asks the device for the ?format= given by name or number', async () => {
    await inject('GET', '/api/clients/dev1/3/0/0?format=TEXT');
    await inject('GET', '/api/clients/dev1/3/0?format=tlv');
    await inject('GET', '/api/clients/dev1/3/0?format=11543');
    await inject('GET', '/api/clients/dev1/3/0');
    expect(h.device.received.map((r) => r.accept)).toEqual([ContentFormat.TEXT, ContentFormat.TLV, ContentFormat.OLD_JSON, ContentFormat.SENML_CBOR]);
  });

  it('rejects an unknown format, a bad timeout and a bad path with 400', async () => {
    const cases: [string, unknown][] = [
      ['/api/clients/dev1/3/0?format=XML', { error: 'bad format', detail: 'unknown format "XML" (expected TEXT, PLAIN_TEXT, LINK, OPAQUE, CBOR, SENML_JSON, SENML_CBOR, TLV, JSON, OLD_JSON, LWM2M_CBOR or a number)' }],
      ['/api/clients/dev1/3/0?format=99', { error: 'bad format', detail: 'content format 99 is not an LwM2M format (0, 40, 42, 60, 110, 112, 11542, 11543, 11544)' }],
      ['/api/clients/dev1/3/0?timeout=soon', { error: 'bad timeout', detail: 'timeout must be a number of seconds in (0, 86400], got "soon"' }],
      ['/api/clients/dev1/3/zero', { error: 'bad path', detail: 'path "3/zero": "zero" is not a number' }],
      ['/api/clients/dev1/3/0/1/2/3', { error: 'bad path', detail: 'path "3/0/1/2/3" has more than 4 levels' }],
    ];
    for (const [url, body] of cases) {
      const res = await inject('GET', url);
      expect({ url, status: res.statusCode, body: res.json() }).toEqual({ url, status: 400, body });
    }
    expect(h.device.received).toEqual([]);
  });
});

describe('write', () => {
  it('replaces a resource from a plain {"value"} body (type from the model)', async () => {
    const res = await inject('PUT', '/api/clients/dev1/1/0/1', { value: 3600 });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'CHANGED(204)', valid: true, success: true, failure: false });
    expect(h.device.received.map(({ method, path }) => ({ method, path }))).toEqual([{ method: 'PUT', path: '/1/0/1' }]);
    expect((await inject('GET', '/api/clients/dev1/1/0/1')).json().content).toEqual({ id: 1, kind: 'singleResource', type: 'INTEGER', value: '3600' });
  });

  it('writes a Leshan node body in the ?format= asked', async () => {
    const res = await inject('PUT', '/api/clients/dev1/1/0/7?format=TEXT', { id: 7, kind: 'singleResource', type: 'STRING', value: 'UQ' });
    expect(res.statusCode).toBe(200);
    expect(h.device.received).toEqual([{ method: 'PUT', path: '/1/0/7', query: [], payload: 'UQ', contentFormat: ContentFormat.TEXT }]);
  });

  it('sends a partial update (POST) with ?replace=false, and also for POST on an instance', async () => {
    const body = { id: 0, kind: 'instance', resources: [{ id: 1, value: '120' }] };
    expect((await inject('PUT', '/api/clients/dev1/1/0?replace=false', body)).json().status).toBe('CHANGED(204)');
    expect((await inject('POST', '/api/clients/dev1/1/0', body)).json().status).toBe('CHANGED(204)');
    expect((await inject('PUT', '/api/clients/dev1/1/0', body)).json().status).toBe('CHANGED(204)');
    expect(h.device.received.map((r) => r.method)).toEqual(['POST', 'POST', 'PUT']);
  });

  it('answers 400 for bad JSON, a bad value, or a write to an object', async () => {
    const cases: [string, unknown, string | undefined, { error: string; detail: string }][] = [
      ['/api/clients/dev1/1/0/1', '{"value":', undefined, { error: 'bad JSON', detail: 'the body is not valid JSON: Unexpected end of JSON input' }],
      ['/api/clients/dev1/1/0/1', { value: 'soon' }, undefined, { error: 'bad value', detail: '/1/0/1: expected an integer (a decimal string or a number) for type INTEGER, got string "soon"' }],
      ['/api/clients/dev1/1/0/1', '', undefined, { error: 'bad value', detail: '/1/0/1: expected a JSON object, got nothing' }],
      ['/api/clients/dev1/1/0/1', { id: 2, value: 1 }, undefined, { error: 'bad value', detail: '/1/0/1: "id" is 2 but the path says 1' }],
      ['/api/clients/dev1/1', { id: 1, instances: [] }, undefined, { error: 'bad path', detail: 'write is not possible on object path /1' }],
    ];
    for (const [url, body, type, expected] of cases) {
      const res = await inject('PUT', url, body, type);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual(expected);
    }
    expect(h.device.received).toEqual([]);
  });
});

describe('execute, create, delete, discover, attributes', () => {
  it('executes with the text body as arguments', async () => {
    const res = await inject('POST', '/api/clients/dev1/3/0/4', "0='now',1", 'text/plain');
    expect(res.json()).toEqual({ status: 'CHANGED(204)', valid: true, success: true, failure: false });
    expect(h.device.received).toEqual([{ method: 'POST', path: '/3/0/4', query: [], payload: "0='now',1", contentFormat: ContentFormat.TEXT }]);
    await inject('POST', '/api/clients/dev1/1/0/8');
    expect(h.device.received[1]).toEqual({ method: 'POST', path: '/1/0/8', query: [], payload: '' });
  });

  it('refuses to execute a resource instance or with a JSON body', async () => {
    const res = await inject('POST', '/api/clients/dev1/3/0/4/0');
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'bad path', detail: 'execute is not possible on resourceInstance path /3/0/4/0' });
    const json = await inject('POST', '/api/clients/dev1/3/0/4', { a: 1 });
    expect(json.statusCode).toBe(400);
    expect(json.json()).toEqual({ error: 'bad request', detail: "execute arguments must be sent as text/plain, e.g. 0='a',1" });
  });

  it('creates an instance with or without an id and answers its location', async () => {
    const withId = await inject('POST', '/api/clients/dev1/9990', { id: 4, resources: [{ id: 0, value: 'four' }] });
    expect(withId.json()).toEqual({ status: 'CREATED(201)', valid: true, success: true, failure: false, location: '/9990/4' });
    const withoutId = await inject('POST', '/api/clients/dev1/9990', { resources: [{ id: 1, value: '-5' }] });
    // The registration announced /9990/0, so the lowest free id is 1.
    expect(withoutId.json().location).toBe('/9990/1');
    expect((await inject('GET', '/api/clients/dev1/9990/1/1')).json().content).toEqual({ id: 1, kind: 'singleResource', type: 'INTEGER', value: '-5' });
  });

  it('deletes an instance', async () => {
    await inject('POST', '/api/clients/dev1/9990', { id: 4, resources: [{ id: 0, value: 'four' }] });
    const res = await inject('DELETE', '/api/clients/dev1/9990/4');
    expect(res.json()).toEqual({ status: 'DELETED(202)', valid: true, success: true, failure: false });
    expect(h.device.received.at(-1)).toEqual({ method: 'DELETE', path: '/9990/4', query: [], payload: '' });
    const res2 = await inject('DELETE', '/api/clients/dev1/9990');
    expect(res2.statusCode).toBe(400);
    expect(res2.json()).toEqual({ error: 'bad path', detail: 'delete is not possible on object path /9990' });
  });

  it('discovers', async () => {
    const res = await inject('GET', '/api/clients/dev1/3/0/discover');
    expect(res.json()).toEqual({
      status: 'CONTENT(205)',
      valid: true,
      success: true,
      failure: false,
      objectLinks: [
        { url: '/3/0', attributes: { pmin: '10' } },
        { url: '/3/0/0', attributes: {} },
        { url: '/3/0/7', attributes: { dim: '2' } },
        { url: '/3/0/13', attributes: {} },
      ],
    });
  });

  it('writes attributes from the query or a JSON body; empty value removes', async () => {
    const res = await inject('PUT', '/api/clients/dev1/3/0/7/attributes?pmin=10&pmax=60');
    expect(res.json()).toEqual({ status: 'CHANGED(204)', valid: true, success: true, failure: false });
    await inject('PUT', '/api/clients/dev1/3/0/7/attributes', { gt: 4.5, st: null });
    await inject('PUT', '/api/clients/dev1/3/0/7/attributes?pmax=');
    expect(h.device.received.map((r) => [r.method, r.path, r.query])).toEqual([
      ['PUT', '/3/0/7', ['pmin=10', 'pmax=60']],
      ['PUT', '/3/0/7', ['gt=4.5', 'st']],
      ['PUT', '/3/0/7', ['pmax']],
    ]);
  });

  it('rejects bad attributes with 400', async () => {
    const cases: [string, unknown, string][] = [
      ['/api/clients/dev1/3/0/7/attributes?pmin=-1', undefined, 'pmin must be a non-negative integer (seconds), got "-1"'],
      ['/api/clients/dev1/3/0/7/attributes?speed=3', undefined, 'unknown attribute "speed" in the query (expected pmin, pmax, gt, lt, st, epmin, epmax)'],
      ['/api/clients/dev1/3/0/7/attributes?pmin=60&pmax=10', undefined, 'pmax (10) must not be less than pmin (60)'],
      ['/api/clients/dev1/3/0/7/attributes', undefined, 'no attribute given (pmin, pmax, gt, lt, st, epmin, epmax)'],
      ['/api/clients/dev1/3/0/7/attributes', { gt: 'high' }, 'gt must be a number, got "high"'],
    ];
    for (const [url, body, detail] of cases) {
      const res = await inject('PUT', url, body);
      expect({ url, status: res.statusCode, body: res.json() }).toEqual({ url, status: 400, body: { error: 'bad attributes', detail } });
    }
  });
});

describe('observe and composite read', () => {
  it('observes (answering the first value), then cancels; a second cancel is 404', async () => {
    const res = await inject('POST', '/api/clients/dev1/3/0/0/observe');
    const body = res.json();
    expect(body).toEqual({
      status: 'CONTENT(205)',
      valid: true,
      success: true,
      failure: false,
      content: { id: 0, kind: 'singleResource', type: 'STRING', value: 'ACME' },
      observationId: expect.any(String),
    });
    expect(h.lwm2m.devices.observations('dev1').map((o) => o.path)).toEqual(['/3/0/0']);
    const cancel = await inject('DELETE', '/api/clients/dev1/3/0/0/observe');
    expect(cancel.json()).toEqual({ status: 'CONTENT(205)', valid: true, success: true, failure: false, cancelled: [body.observationId] });
    expect(h.lwm2m.devices.observations('dev1')).toEqual([]);
    const again = await inject('DELETE', '/api/clients/dev1/3/0/0/observe');
    expect(again.statusCode).toBe(404);
    expect(again.json()).toEqual({ error: 'unknown observation', detail: 'device "dev1" has no observation of /3/0/0' });
  });

  it('reads several paths at once', async () => {
    const res = await inject('GET', '/api/clients/dev1/composite?paths=/3/0/0,/1/0/1,/3/0/7/1');
    expect(res.json()).toEqual({
      status: 'CONTENT(205)',
      valid: true,
      success: true,
      failure: false,
      content: {
        '/3/0/0': { id: 0, kind: 'singleResource', type: 'STRING', value: 'ACME' },
        '/1/0/1': { id: 1, kind: 'singleResource', type: 'INTEGER', value: '86400' },
        '/3/0/7/1': { id: 1, kind: 'resourceInstance', type: 'INTEGER', value: '5000' },
      },
    });
    expect(h.device.received.map((r) => r.method)).toEqual(['FETCH']);
    const missing = await inject('GET', '/api/clients/dev1/composite');
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toEqual({ error: 'bad path', detail: 'composite read needs ?paths=/3/0/1,/1/0/1' });
  });
});

describe('errors are JSON with the right status', () => {
  it('502 names the CoAP code when the device answers an error', async () => {
    h.device.failNext(CoapCode.NotFound, 'no such resource');
    const res = await inject('GET', '/api/clients/dev1/3/0/5');
    expect(res.statusCode).toBe(502);
    expect(res.json()).toEqual({
      error: 'device error',
      detail: 'device answered 4.04 Not Found to /3/0/5: no such resource',
      coapCode: '4.04',
      status: 'NOT_FOUND(404)',
      valid: true,
      success: false,
      failure: true,
      errormessage: 'no such resource',
    });
    h.device.failNext(CoapCode.MethodNotAllowed);
    const write = await inject('PUT', '/api/clients/dev1/1/0/1', { value: 1 });
    expect(write.statusCode).toBe(502);
    expect(write.json()).toMatchObject({ detail: 'device answered 4.05 Method Not Allowed to /1/0/1', coapCode: '4.05', status: 'METHOD_NOT_ALLOWED(405)' });
  });

  it('504 when the device does not answer', async () => {
    h.device.silent = true;
    const res = await inject('GET', '/api/clients/dev1/3/0/0?timeout=2');
    expect(res.statusCode).toBe(504);
    expect(res.json()).toEqual({ error: 'device timeout', detail: 'device "dev1" did not answer /3/0/0 within 2000 ms' });
  });

  it('502 when the device answers something undecodable', async () => {
    h.device.set(3, { kind: 'instance', id: 0, resources: [{ kind: 'singleResource', id: 0, type: 'string', value: 'x' }] });
    // A 2.05 whose payload is not the TLV asked for.
    h.device.failNext(CoapCode.Content, 'not TLV');
    const res = await inject('GET', '/api/clients/dev1/3/0?format=TLV');
    expect(res.statusCode).toBe(502);
    expect(res.json().error).toBe('bad device response');
  });

  it('500 without a stack trace for an unexpected failure', async () => {
    h.device.crashWith = new TypeError('socket exploded');
    const res = await inject('GET', '/api/clients/dev1/3/0/0');
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: 'internal error', detail: 'socket exploded' });
  });

  it('404 JSON for an unknown route, a device op on an unknown device', async () => {
    const route = await inject('GET', '/api/nothing');
    expect(route.statusCode).toBe(404);
    expect(route.json()).toEqual({ error: 'not found', detail: 'no route GET /api/nothing' });
    const device = await inject('PUT', '/api/clients/ghost/3/0/0', { value: 'x' });
    expect(device.statusCode).toBe(404);
    expect(device.json()).toEqual({ error: 'unknown device', detail: 'no registered device with endpoint "ghost"' });
  });

  it('413 JSON for a body over the limit', async () => {
    const res = await inject('PUT', '/api/clients/dev1/3/0/0', { value: 'x'.repeat(1024 * 1024 + 10) });
    expect(res.statusCode).toBe(413);
    expect(res.json().error).toBe('bad request');
  });
});
