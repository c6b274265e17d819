import { describe, expect, it } from 'vitest';
import { CoapCode, type CoapMethod, type OutgoingResponse } from '../../../../src/coap/types.js';
import { ManualClock } from '../../../../src/util/clock.js';
import { ObjectRegistry } from '../../../../src/lwm2m/model/registry.js';
import { Lwm2mServer, type Lwm2mServerOptions } from '../../../../src/lwm2m/server/lwm2m-server.js';
import type { CoapRequester } from '../../../../src/lwm2m/server/coap-requester.js';
import { availableInstances, supportedObjects, type Registration } from '../../../../src/lwm2m/server/registration.js';
import type { Lwm2mEventMap } from '../../../../src/lwm2m/server/events.js';
import { coapRequest, DEVICE_A, DEVICE_B, registerRequest } from './helpers.js';

const noDevice: CoapRequester = {
  request: () => Promise.reject(new Error('no device in this test')),
  observe: () => Promise.reject(new Error('no device in this test')),
};

function setup(options: Partial<Lwm2mServerOptions> = {}) {
  const clock = new ManualClock(1_700_000_000_000);
  const server = new Lwm2mServer({ coap: noDevice, model: ObjectRegistry.fromSpecs([]), clock, ...options });
  const events: string[] = [];
  for (const name of ['registered', 'updated', 'deregistered', 'expired'] as const) {
    server.events.on(name, (e: Lwm2mEventMap[typeof name]) => {
      events.push(`${name}:${e.registration.endpoint}`);
    });
  }
  server.events.on('awake', (e) => {
    events.push(`awake:${e.endpoint}`);
  });
  server.events.on('sleeping', (e) => {
    events.push(`sleeping:${e.endpoint}`);
  });
  return { clock, server, events };
}

function text(res: OutgoingResponse): [string, string] {
  return [`${res.code >> 5}.${String(res.code & 0x1f).padStart(2, '0')}`, res.payload?.toString('utf8') ?? ''];
}

async function register(server: Lwm2mServer, query: string[], payload?: string, remote = DEVICE_A): Promise<Registration> {
  const res = await server.handleRequest(registerRequest(query, payload, remote));
  expect(text(res)[0]).toBe('2.01');
  return server.registrations.getById(res.locationPath![1])!;
}

describe('register (POST /rd)', () => {
  it('applies the defaults (lt 86400, lwm2m 1.0, b U) and answers 2.01 with the location', async () => {
    const { server, clock, events } = setup();
    const res = await server.handleRequest(registerRequest(['ep=dev-1'], '</1/0>,</3/0>'));
    expect(res.code).toBe(CoapCode.Created);
    expect(res.locationPath).toHaveLength(2);
    const [rd, id] = res.locationPath!;
    expect(rd).toBe('rd');
    // The first registration of a fresh store takes slot 0, then 48 random bits.
    expect(id).toMatch(/^0-[A-Za-z0-9_-]{8}$/);
    const reg = server.registrations.get('dev-1')!;
    expect(reg).toEqual({
      id,
      endpoint: 'dev-1',
      lifetimeSec: 86_400,
      lwm2mVersion: '1.0',
      binding: 'U',
      queueMode: false,
      smsNumber: undefined,
      address: { address: '10.0.0.1', port: 5683 },
      rootPath: '/',
      objectLinks: [
        { uri: '/1/0', params: {} },
        { uri: '/3/0', params: {} },
      ],
      registeredAt: clock.now(),
      lastUpdateAt: clock.now(),
      expiresAt: clock.now() + 86_400_000,
    });
    expect(server.registrations.getById(id)).toBe(reg);
    expect(server.registrations.getByAddress({ address: '10.0.0.1', port: 5683 })).toBe(reg);
    expect(server.registrations.count()).toBe(1);
    expect(events).toEqual(['registered:dev-1']);
  });

  it('reads lt, lwm2m, b and sms', async () => {
    const { server } = setup();
    const reg = await register(server, ['ep=dev', 'lt=300', 'lwm2m=1.1', 'b=US', 'sms=+4915112345']);
    expect([reg.lifetimeSec, reg.lwm2mVersion, reg.binding, reg.queueMode, reg.smsNumber]).toEqual([300, '1.1', 'US', false, '+4915112345']);
  });

  it.each([
    [[], '4.00', 'missing endpoint name (ep)'],
    [['ep='], '4.00', 'missing endpoint name (ep)'],
    [['ep'], '4.00', 'missing endpoint name (ep)'],
    [['ep=a', 'lt=0'], '4.00', 'lifetime (lt) must be a positive integer up to 4294967295, got "0"'],
    [['ep=a', 'lt=-5'], '4.00', 'lifetime (lt) must be a positive integer up to 4294967295, got "-5"'],
    [['ep=a', 'lt=1.5'], '4.00', 'lifetime (lt) must be a positive integer up to 4294967295, got "1.5"'],
    [['ep=a', 'lt=abc'], '4.00', 'lifetime (lt) must be a positive integer up to 4294967295, got "abc"'],
    [['ep=a', 'lt'], '4.00', 'lifetime (lt) must be a positive integer up to 4294967295, got ""'],
    [['ep=a', 'lt=4294967296'], '4.00', 'lifetime (lt) must be a positive integer up to 4294967295, got "4294967296"'],
    [['ep=a', 'lwm2m=2.0'], '4.12', 'unsupported LwM2M version (lwm2m) "2.0"; this server supports 1.0, 1.1, 1.2'],
    [['ep=a', 'lwm2m=1'], '4.12', 'unsupported LwM2M version (lwm2m) "1"; this server supports 1.0, 1.1, 1.2'],
    [['ep=a', 'b=T'], '4.00', 'binding (b) "T" is not valid for LwM2M 1.0 (one of U, UQ, S, SQ, US, UQS)'],
    [['ep=a', 'b=QU'], '4.00', 'binding (b) "QU" is not valid for LwM2M 1.0 (one of U, UQ, S, SQ, US, UQS)'],
    [['ep=a', 'lwm2m=1.1', 'b=UQ'], '4.00', 'binding (b) "UQ" contains Q: from LwM2M 1.1 queue mode is the separate Q parameter'],
    [['ep=a', 'lwm2m=1.1', 'b=UU'], '4.00', 'binding (b) "UU" is not valid for LwM2M 1.1 (letters U, T, S, N, each at most once)'],
    [['ep=a', 'lwm2m=1.2', 'b=X'], '4.00', 'binding (b) "X" is not valid for LwM2M 1.2 (letters U, T, S, N, each at most once)'],
    [['ep=a', 'b='], '4.00', 'binding (b) has no value'],
    [['ep=a', 'ep=b'], '4.00', 'duplicate query parameter "ep"'],
  ])('rejects %j with %s', async (query, code, reason) => {
    const { server, events } = setup();
    const res = await server.handleRequest(registerRequest(query));
    expect(text(res)).toEqual([code, reason]);
    expect(res.contentFormat).toBe(0);
    expect(server.registrations.count()).toBe(0);
    expect(events).toEqual([]);
  });

  it('rejects a malformed link payload with the parser reason', async () => {
    const { server } = setup();
    const res = await server.handleRequest(registerRequest(['ep=a'], '</1/0>,</3/0'));
    expect(text(res)).toEqual(['4.00', 'malformed object links: unterminated URI (no closing >) at position 7']);
  });

  it('refuses versions the server is configured not to support', async () => {
    const { server } = setup({ supportedVersions: ['1.1', '1.2'] });
    const res = await server.handleRequest(registerRequest(['ep=a']));
    expect(text(res)).toEqual(['4.12', 'unsupported LwM2M version (lwm2m) "1.0"; this server supports 1.1, 1.2']);
  });

  it.each([
    [['lwm2m=1.0', 'b=U'], 'U', false],
    [['lwm2m=1.0', 'b=UQ'], 'UQ', true],
    [['lwm2m=1.0', 'b=S'], 'S', false],
    [['lwm2m=1.0', 'b=SQ'], 'SQ', true],
    [['lwm2m=1.0', 'b=US'], 'US', false],
    [['lwm2m=1.0', 'b=UQS'], 'UQS', true],
    [['lwm2m=1.0', 'b=U', 'Q'], 'U', false],
    [['lwm2m=1.1'], 'U', false],
    [['lwm2m=1.1', 'Q'], 'U', true],
    [['lwm2m=1.1', 'b=T', 'Q'], 'T', true],
    [['lwm2m=1.2', 'b=UTSN'], 'UTSN', false],
    [['lwm2m=1.2', 'b=N', 'Q'], 'N', true],
  ])('binding %j → b %s, queue %s', async (query, binding, queueMode) => {
    const { server } = setup();
    const reg = await register(server, ['ep=a', ...query]);
    expect([reg.binding, reg.queueMode]).toEqual([binding, queueMode]);
  });

  it('understands the alternate root path, object versions and instance lists', async () => {
    const { server } = setup();
    const reg = await register(
      server,
      ['ep=a', 'lwm2m=1.1'],
      '</lwm2m>;rt="oma.lwm2m";ct=110,</lwm2m/1/0>,</lwm2m/3/0>,</lwm2m/5>;ver=1.1,</lwm2m/3303/1>,</lwm2m/3303/0>,</other/9>',
    );
    expect(reg.rootPath).toBe('/lwm2m');
    expect([...supportedObjects(reg)]).toEqual([
      [1, '1.0'],
      [3, '1.0'],
      [5, '1.1'],
      [3303, '1.0'],
    ]);
    expect([...availableInstances(reg)]).toEqual([
      [1, [0]],
      [3, [0]],
      [3303, [0, 1]],
    ]);
    expect(reg.objectLinks[0]).toEqual({ uri: '/lwm2m', params: { rt: 'oma.lwm2m', ct: '110' } });
  });

  it('accepts an empty payload (no object links)', async () => {
    const { server } = setup();
    const reg = await register(server, ['ep=a'], '');
    expect([reg.rootPath, reg.objectLinks]).toEqual(['/', []]);
  });

  it('shares one frozen object-link list between devices sending the same payload', async () => {
    const { server } = setup();
    const a = await register(server, ['ep=a'], '</1/0>,</3/0>,</5/0>', DEVICE_A);
    const b = await register(server, ['ep=b'], '</1/0>,</3/0>,</5/0>', DEVICE_B);
    expect(a.objectLinks).toBe(b.objectLinks);
    expect(Object.isFrozen(a.objectLinks)).toBe(true);
    expect(Object.isFrozen(a.objectLinks[0].params)).toBe(true);
  });

  it('a second register with the same endpoint replaces the first; the old id becomes unknown', async () => {
    const { server, events } = setup();
    const first = await register(server, ['ep=a'], undefined, DEVICE_A);
    let replaced: Registration | undefined;
    server.events.on('registered', (e) => {
      replaced = e.replaced;
    });
    const second = await register(server, ['ep=a', 'lt=60'], undefined, DEVICE_B);
    expect(second.id).not.toBe(first.id);
    expect(replaced).toBe(first);
    expect(server.registrations.count()).toBe(1);
    expect(server.registrations.get('a')).toBe(second);
    expect(server.registrations.getById(first.id)).toBeUndefined();
    expect(server.registrations.getByAddress({ address: '10.0.0.1', port: 5683 })).toBeUndefined();
    const update = await server.handleRequest(coapRequest('POST', ['rd', first.id]));
    expect(text(update)).toEqual(['4.04', `unknown registration id "${first.id}"`]);
    expect(events).toEqual(['registered:a', 'registered:a']);
  });
});

describe('update (POST /rd/{id})', () => {
  it('refreshes the expiry, takes the new address and keeps what was not sent', async () => {
    const { server, clock, events } = setup();
    const reg = await register(server, ['ep=a', 'lt=100', 'sms=123'], '</1/0>,</3/0>', DEVICE_A);
    let seen: Lwm2mEventMap['updated'] | undefined;
    server.events.on('updated', (e) => {
      seen = e;
    });
    clock.advance(50_000);
    const res = await server.handleRequest(coapRequest('POST', ['rd', reg.id], { remote: DEVICE_B }));
    expect(text(res)).toEqual(['2.04', '']);
    const updated = server.registrations.get('a')!;
    expect(updated).toEqual({
      ...reg,
      address: { address: '10.0.0.2', port: 40000 },
      lastUpdateAt: clock.now(),
      expiresAt: clock.now() + 100_000,
    });
    expect(seen?.previous).toBe(reg);
    expect(seen?.registration).toBe(updated);
    expect(server.registrations.getByAddress({ address: '10.0.0.2', port: 40000 })).toBe(updated);
    expect(server.registrations.getByAddress({ address: '10.0.0.1', port: 5683 })).toBeUndefined();
    expect(events).toEqual(['registered:a', 'updated:a']);
  });

  it('applies lt, b, sms and a new link payload', async () => {
    const { server, clock } = setup();
    const reg = await register(server, ['ep=a', 'lt=100'], '</1/0>');
    clock.advance(1000);
    await server.handleRequest(
      coapRequest('POST', ['rd', reg.id], { query: ['lt=500', 'b=UQ', 'sms=999'], payload: '</1/0>,</5/0>' }),
    );
    const updated = server.registrations.get('a')!;
    expect([updated.lifetimeSec, updated.binding, updated.queueMode, updated.smsNumber, updated.expiresAt]).toEqual([
      500,
      'UQ',
      true,
      '999',
      clock.now() + 500_000,
    ]);
    expect(updated.objectLinks.map((l) => l.uri)).toEqual(['/1/0', '/5/0']);
  });

  it('turns queue mode on with Q for a 1.1 device, and off when b is sent without Q', async () => {
    const { server } = setup();
    const reg = await register(server, ['ep=a', 'lwm2m=1.1']);
    await server.handleRequest(coapRequest('POST', ['rd', reg.id], { query: ['Q'] }));
    expect(server.registrations.get('a')!.queueMode).toBe(true);
    await server.handleRequest(coapRequest('POST', ['rd', reg.id]));
    expect(server.registrations.get('a')!.queueMode).toBe(true);
    await server.handleRequest(coapRequest('POST', ['rd', reg.id], { query: ['b=U'] }));
    expect(server.registrations.get('a')!.queueMode).toBe(false);
  });

  it('rejects bad parameters with 4.00 and leaves the registration alone', async () => {
    const { server } = setup();
    const reg = await register(server, ['ep=a', 'lwm2m=1.1']);
    expect(text(await server.handleRequest(coapRequest('POST', ['rd', reg.id], { query: ['lt=x'] })))).toEqual([
      '4.00',
      'lifetime (lt) must be a positive integer up to 4294967295, got "x"',
    ]);
    expect(text(await server.handleRequest(coapRequest('POST', ['rd', reg.id], { query: ['b=UQ'] })))).toEqual([
      '4.00',
      'binding (b) "UQ" contains Q: from LwM2M 1.1 queue mode is the separate Q parameter',
    ]);
    expect(text(await server.handleRequest(coapRequest('POST', ['rd', reg.id], { payload: '<' })))).toEqual([
      '4.00',
      'malformed object links: unterminated URI (no closing >) at position 0',
    ]);
    expect(server.registrations.get('a')).toBe(reg);
  });

  it('answers 4.04 for an unknown id', async () => {
    const { server } = setup();
    expect(text(await server.handleRequest(coapRequest('POST', ['rd', 'nope'])))).toEqual(['4.04', 'unknown registration id "nope"']);
  });
});

describe('deregister (DELETE /rd/{id})', () => {
  it('answers 2.02, removes the registration and emits deregistered', async () => {
    const { server, events } = setup();
    const reg = await register(server, ['ep=a']);
    expect(text(await server.handleRequest(coapRequest('DELETE', ['rd', reg.id])))).toEqual(['2.02', '']);
    expect(server.registrations.count()).toBe(0);
    expect(server.registrations.get('a')).toBeUndefined();
    expect(server.registrations.getByAddress({ address: '10.0.0.1', port: 5683 })).toBeUndefined();
    expect(events).toEqual(['registered:a', 'deregistered:a']);
    expect(text(await server.handleRequest(coapRequest('DELETE', ['rd', reg.id])))).toEqual(['4.04', `unknown registration id "${reg.id}"`]);
  });
});

describe('expiry', () => {
  it('expires exactly at lifetime + grace (default 15 s), not before', async () => {
    const { server, clock, events } = setup();
    server.start();
    await register(server, ['ep=a', 'lt=60']);
    clock.advance(74_999);
    expect(server.registrations.count()).toBe(1);
    clock.advance(1);
    expect(server.registrations.count()).toBe(0);
    expect(events).toEqual(['registered:a', 'expired:a']);
    await server.close();
  });

  it('uses the configured grace and measures from the last update', async () => {
    const { server, clock, events } = setup({ expiryGraceMs: 2000 });
    server.start();
    const reg = await register(server, ['ep=a', 'lt=10']);
    clock.advance(8_000);
    await server.handleRequest(coapRequest('POST', ['rd', reg.id]));
    clock.advance(11_999);
    expect(server.registrations.count()).toBe(1);
    clock.advance(1);
    expect(server.registrations.count()).toBe(0);
    expect(events).toEqual(['registered:a', 'updated:a', 'expired:a']);
    await server.close();
  });

  it('uses one sweep timer for all devices, and none after close', async () => {
    const { server, clock } = setup();
    server.start();
    for (let i = 0; i < 50; i++) await register(server, [`ep=d${i}`, 'lt=30'], undefined, { address: '10.1.0.1', port: 1000 + i });
    expect(clock.pendingTimers()).toBe(1);
    clock.advance(45_000);
    expect(server.registrations.count()).toBe(0);
    await server.close();
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('queue-mode presence through the server', () => {
  it('is awake after register, sleeping after the awake window, awake again on update', async () => {
    const { server, clock, events } = setup({ awakeTimeMs: 93_000 });
    server.start();
    const reg = await register(server, ['ep=q', 'lwm2m=1.1', 'Q', 'lt=600']);
    expect(server.presence('q')).toBe('awake');
    clock.advance(92_999);
    expect(server.presence('q')).toBe('awake');
    clock.advance(1);
    expect(server.presence('q')).toBe('sleeping');
    await server.handleRequest(coapRequest('POST', ['rd', reg.id]));
    expect(server.presence('q')).toBe('awake');
    expect(events).toEqual(['registered:q', 'awake:q', 'sleeping:q', 'updated:q', 'awake:q']);
    await server.close();
  });

  it('reports no presence for a device that is not in queue mode', async () => {
    const { server } = setup();
    await register(server, ['ep=a']);
    expect(server.presence('a')).toBeUndefined();
  });
});

describe('routing', () => {
  it.each([
    ['GET', ['rd'], '4.05', 'GET not allowed on /rd (use POST)'],
    ['PUT', ['rd', 'x'], '4.05', 'PUT not allowed on /rd/x (use POST or DELETE)'],
    ['GET', ['dp'], '4.05', 'GET not allowed on /dp (use POST)'],
    ['POST', ['rd', 'x', 'y'], '4.04', 'no resource /rd/x/y on this LwM2M server'],
    ['GET', ['foo'], '4.04', 'no resource /foo on this LwM2M server'],
    ['GET', [], '4.04', 'no resource / on this LwM2M server'],
  ] as [CoapMethod, string[], string, string][])('%s /%j → %s', async (method, path, code, reason) => {
    const { server } = setup();
    expect(text(await server.handleRequest(coapRequest(method, path)))).toEqual([code, reason]);
  });

  it('a throwing or rejecting listener does not break registration nor other listeners', async () => {
    const { server, events } = setup();
    server.events.on('registered', () => {
      throw new Error('listener bug');
    });
    server.events.on('registered', () => Promise.reject(new Error('async listener bug')));
    const later: string[] = [];
    server.events.on('registered', (e) => {
      later.push(e.registration.endpoint);
    });
    const res = await server.handleRequest(registerRequest(['ep=a']));
    expect(res.code).toBe(CoapCode.Created);
    expect(events).toEqual(['registered:a']);
    expect(later).toEqual(['a']);
  });
});
