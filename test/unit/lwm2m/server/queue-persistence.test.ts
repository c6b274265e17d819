import { describe, expect, it } from 'vitest';
import { CoapCode } from '../../../../src/coap/types.js';
import { ManualClock } from '../../../../src/util/clock.js';
import { loadObjectModel } from '../../../../src/lwm2m/model/registry.js';
import { ContentFormat } from '../../../../src/lwm2m/formats/types.js';
import { Lwm2mServer } from '../../../../src/lwm2m/server/lwm2m-server.js';
import { MemoryRegistrationStore } from '../../../../src/lwm2m/server/registration-store.js';
import { QueueClosedError } from '../../../../src/lwm2m/server/request-queue.js';
import { queuePersistenceWithAudit, type QueuedRequestCompletedEvent } from '../../../../src/lwm2m/server/queue-persistence.js';
import { QueueTimeoutError, UnknownDeviceError } from '../../../../src/lwm2m/server/errors.js';
import { MemoryStore } from '../../../../src/store/memory/memory-store.js';
import { coapRequest, flush, registerRequest } from './helpers.js';
import { deviceObjects, FakeDevice } from './fake-device.js';

const model = loadObjectModel();
const START = 1_700_000_000_000;
const AWAKE_MS = 93_000;

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

/**
 * Restarts without sockets: each boot is a new "process" (a new Lwm2mServer and its own clock,
 * so the dead one's timers never fire again) over the same registrations and the same store,
 * which is what survives a kill -9 (the store's own durability is its contract tests' job).
 */
function world() {
  const store = new MemoryStore();
  const registrations = new MemoryRegistrationStore();
  const device = new FakeDevice(model, deviceObjects());
  const w = {
    clock: new ManualClock(START),
    store,
    registrations,
    device,
    /** `downtimeMs`: how long the server was down before this start. */
    boot: async (downtimeMs = 0) => {
      const clock = new ManualClock(w.clock.now() + downtimeMs);
      w.clock = clock;
      const persistence = queuePersistenceWithAudit(store.queuedRequests, store.audit, clock);
      const server = new Lwm2mServer({ coap: device, model, clock, store: registrations, queuePersistence: persistence });
      const completed: QueuedRequestCompletedEvent[] = [];
      server.events.on('queuedRequestCompleted', (e) => {
        completed.push(e);
      });
      await server.restore();
      server.start();
      return { server, completed };
    },
    stored: async (endpoint: string) => (await store.queuedRequests.list(endpoint)).map((r) => [r.target, r.request.method]),
  };
  return w;
}

async function sleepingDevice(w: ReturnType<typeof world>, server: Lwm2mServer, query = ['ep=q', 'lwm2m=1.1', 'Q', 'lt=86400']) {
  const res = await server.handleRequest(registerRequest(query));
  expect(res.code).toBe(CoapCode.Created);
  w.clock.advance(AWAKE_MS);
  expect(server.presence('q')).toBe('sleeping');
  return res.locationPath![1];
}

const name = (value: string) => ({ kind: 'singleResource', id: 1, type: 'string', value }) as const;

describe('queued requests persisted while they wait', () => {
  it('stores a request only while it waits for a sleeping device, and forgets it when sent', async () => {
    const w = world();
    const { server } = await w.boot();
    const regId = await sleepingDevice(w, server);
    const write = server.devices.write('q', '/5/0/1', name('coap://fw/1'), { mode: 'replace', format: ContentFormat.TEXT });
    const read = server.devices.read('q', '/3/0/9');
    await flush();
    expect(await w.stored('q')).toEqual([
      ['/5/0/1', 'PUT'],
      ['/3/0/9', 'GET'],
    ]);
    const [first] = await w.store.queuedRequests.list('q');
    expect(first.request.payload).toEqual(Buffer.from('coap://fw/1'));
    expect(first.deadline).toBeUndefined();

    await server.handleRequest(coapRequest('POST', ['rd', regId]));
    await write;
    await read;
    await flush();
    expect(await w.stored('q')).toEqual([]);
    // Awake now: a request goes straight out and is never stored.
    await server.devices.read('q', '/3/0/9');
    expect(await w.store.queuedRequests.endpoints()).toEqual([]);
    expect(w.device.received.map((r) => r.req.method)).toEqual(['PUT', 'GET', 'GET']);
    await server.close();
  });

  it('forgets a request that timed out, and all of a device that deregistered', async () => {
    const w = world();
    const { server } = await w.boot();
    const regId = await sleepingDevice(w, server);
    const timedOut = failure(server.devices.read('q', '/3/0/9', { timeoutMs: 10_000 }));
    const gone = failure(server.devices.read('q', '/3/0/0'));
    await flush();
    expect(await w.stored('q')).toEqual([
      ['/3/0/9', 'GET'],
      ['/3/0/0', 'GET'],
    ]);
    w.clock.advance(10_000);
    expect(await timedOut).toBeInstanceOf(QueueTimeoutError);
    await flush();
    expect(await w.stored('q')).toEqual([['/3/0/0', 'GET']]);
    await server.handleRequest(coapRequest('DELETE', ['rd', regId]));
    expect(await gone).toBeInstanceOf(UnknownDeviceError);
    await flush();
    expect(await w.store.queuedRequests.endpoints()).toEqual([]);
    await server.close();
  });

  it('does not store observes nor observation cancels: they need state of the process that made them', async () => {
    const w = world();
    const { server } = await w.boot();
    const regId = await sleepingDevice(w, server);
    const observe = server.devices.observe('q', '/3/0/9');
    await flush();
    expect(await w.store.queuedRequests.endpoints()).toEqual([]);
    await server.handleRequest(coapRequest('POST', ['rd', regId]));
    const { observationId } = await observe;
    w.clock.advance(AWAKE_MS);
    server.sweep();
    expect(server.presence('q')).toBe('sleeping');
    const cancel = server.devices.cancelObservation('q', observationId!);
    await flush();
    expect(server.queuedRequests('q').map((r) => r.target)).toEqual(['/3/0/9']);
    expect(await w.store.queuedRequests.endpoints()).toEqual([]);
    await server.close();
    expect(await failure(cancel)).toBeInstanceOf(QueueClosedError);
  });

  it('keeps stored requests when the server shuts down', async () => {
    const w = world();
    const { server } = await w.boot();
    await sleepingDevice(w, server);
    const read = failure(server.devices.read('q', '/3/0/9'));
    await flush();
    await server.close();
    expect(await read).toBeInstanceOf(QueueClosedError);
    await flush();
    expect(await w.stored('q')).toEqual([['/3/0/9', 'GET']]);
  });
});

describe('queued requests after a restart', () => {
  it('go out in FIFO order when the device next wakes, and report their outcome as an event and in the audit log', async () => {
    const w = world();
    const first = await w.boot();
    const regId = await sleepingDevice(w, first.server);
    // The HTTP callers of the first process never get an answer: it dies with them.
    void first.server.devices.write('q', '/5/0/1', name('coap://fw/2'), { mode: 'replace', format: ContentFormat.TEXT, timeoutMs: 600_000 });
    void first.server.devices.execute('q', '/3/0/4');
    void first.server.devices.read('q', '/3/0/0');
    await flush();
    // kill -9: nothing is closed, a new process starts on the same data.
    const second = await w.boot(5_000);
    expect(second.server.queuedRequests('q').map((r) => [r.target, r.request.method, r.deadline])).toEqual([
      ['/5/0/1', 'PUT', START + AWAKE_MS + 600_000],
      ['/3/0/4', 'POST', undefined],
      ['/3/0/0', 'GET', undefined],
    ]);
    expect(w.device.received).toEqual([]);

    // The device resets the first request it gets (the PUT) and answers the others.
    w.device.failures.push('reset');
    await second.server.handleRequest(coapRequest('POST', ['rd', regId]));
    await flush();
    expect(w.device.received.map((r) => [r.req.method, r.req.path, r.req.payload?.toString()])).toEqual([
      ['PUT', ['5', '0', '1'], 'coap://fw/2'],
      ['POST', ['3', '0', '4'], undefined],
      ['GET', ['3', '0', '0'], undefined],
    ]);
    const queuedAt = START + AWAKE_MS;
    expect(second.completed).toEqual([
      { endpoint: 'q', path: '/5/0/1', method: 'PUT', outcome: 'failed', reason: 'reset', queuedAt },
      { endpoint: 'q', path: '/3/0/4', method: 'POST', outcome: 'answered', code: '2.04', queuedAt },
      { endpoint: 'q', path: '/3/0/0', method: 'GET', outcome: 'answered', code: '2.05', queuedAt },
    ]);
    expect(await w.store.queuedRequests.endpoints()).toEqual([]);
    const audit = await w.store.audit.list();
    expect(audit.map((e) => [e.action, e.subject, e.detail])).toEqual([
      ['queuedRequest.completed', 'q', { path: '/5/0/1', method: 'PUT', outcome: 'failed', queuedAt, reason: 'reset' }],
      ['queuedRequest.completed', 'q', { path: '/3/0/4', method: 'POST', outcome: 'answered', queuedAt, code: '2.04' }],
      ['queuedRequest.completed', 'q', { path: '/3/0/0', method: 'GET', outcome: 'answered', queuedAt, code: '2.05' }],
    ]);
    await second.server.close();
  });

  it('end at start when their deadline passed while the server was down, or their device is gone', async () => {
    const w = world();
    const first = await w.boot();
    await sleepingDevice(w, first.server);
    await first.server.handleRequest(registerRequest(['ep=other', 'lwm2m=1.1', 'Q', 'lt=86400'], '</3/0>', { address: '10.0.0.7', port: 5683 }));
    w.clock.advance(AWAKE_MS);
    void first.server.devices.read('q', '/3/0/9', { timeoutMs: 60_000 });
    void first.server.devices.read('q', '/3/0/0', { timeoutMs: 3_600_000 });
    void first.server.devices.read('other', '/3/0/1');
    await flush();
    w.registrations.remove(w.registrations.get('other')!.id);
    const second = await w.boot(120_000);
    expect(second.completed).toEqual([
      { endpoint: 'other', path: '/3/0/1', method: 'GET', outcome: 'failed', reason: 'device "other" is no longer registered', queuedAt: START + 2 * AWAKE_MS },
      { endpoint: 'q', path: '/3/0/9', method: 'GET', outcome: 'timedOut', reason: 'its deadline passed while the server was down', queuedAt: START + 2 * AWAKE_MS },
    ]);
    expect(second.server.queuedRequests('q').map((r) => r.target)).toEqual(['/3/0/0']);
    expect(await w.stored('q')).toEqual([['/3/0/0', 'GET']]);
    expect(await w.store.queuedRequests.endpoints()).toEqual(['q']);
    // What is left of its deadline still counts after the restart.
    w.clock.advance(3_600_000 - 120_000);
    await flush();
    expect(second.completed[2]).toEqual({
      endpoint: 'q',
      path: '/3/0/0',
      method: 'GET',
      outcome: 'timedOut',
      reason: `device "q" stayed asleep; request /3/0/0 was not sent within ${3_600_000 - 120_000} ms`,
      queuedAt: START + 2 * AWAKE_MS,
    });
    expect(await w.store.queuedRequests.endpoints()).toEqual([]);
    await second.server.close();
  });
});
