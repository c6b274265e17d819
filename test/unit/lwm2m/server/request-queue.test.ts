import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../src/util/clock.js';
import { Lwm2mEvents, type Lwm2mEventMap } from '../../../../src/lwm2m/server/events.js';
import { DeviceTimeoutError, QueueTimeoutError, UnknownDeviceError } from '../../../../src/lwm2m/server/errors.js';
import { RequestQueue, type RequestRunner } from '../../../../src/lwm2m/server/request-queue.js';
import type { Registration } from '../../../../src/lwm2m/server/registration.js';
import { flush } from './helpers.js';

function registration(endpoint: string, queueMode: boolean, port = 5683): Registration {
  return {
    id: 'id-' + endpoint,
    endpoint,
    lifetimeSec: 3600,
    lwm2mVersion: '1.1',
    binding: 'U',
    queueMode,
    smsNumber: undefined,
    address: { address: '10.0.0.9', port },
    rootPath: '/',
    objectLinks: [],
    registeredAt: 0,
    lastUpdateAt: 0,
    expiresAt: 3_600_000,
  };
}

function setup(awakeTimeMs = 10_000) {
  const clock = new ManualClock(0);
  const events = new Lwm2mEvents();
  const log: string[] = [];
  for (const name of ['awake', 'sleeping', 'requestQueued'] as const) {
    events.on(name, (e: Lwm2mEventMap[typeof name]) => {
      log.push(`${name}:${e.endpoint}`);
    });
  }
  const registrations = new Map<string, Registration>();
  const queue = new RequestQueue({ clock, events, lookup: (ep) => registrations.get(ep), awakeTimeMs });
  return { clock, events, log, registrations, queue };
}

/** A runner whose answer the test controls. */
function controlled() {
  const calls: { target: string; port: number; remaining: number | undefined; resolve: (v: string) => void; reject: (e: unknown) => void }[] = [];
  const runner = (target: string): RequestRunner<string> =>
    (reg, remaining) =>
      new Promise<string>((resolve, reject) => {
        calls.push({ target, port: reg.address.port, remaining, resolve, reject });
      });
  return { calls, runner };
}

const describeRead = (target: string) => ({ kind: 'request' as const, target, request: { method: 'GET' as const, path: target.split('/').filter(Boolean) } });

describe('RequestQueue', () => {
  it('sends at once to a device that is not in queue mode, passing the caller timeout', async () => {
    const { queue, registrations } = setup();
    const reg = registration('plain', false);
    registrations.set('plain', reg);
    const { calls, runner } = controlled();
    const answer = queue.submit(reg, describeRead('/3/0'), 5000, runner('/3/0'));
    expect(calls.map((c) => [c.target, c.remaining])).toEqual([['/3/0', 5000]]);
    calls[0].resolve('ok');
    expect(await answer).toBe('ok');
    expect(queue.state('plain')).toBeUndefined();
  });

  it('holds requests while the device sleeps and sends them in order, one at a time, when it wakes', async () => {
    const { queue, registrations, clock, log } = setup();
    const reg = registration('q', true);
    registrations.set('q', reg);
    expect(queue.state('q')).toBe('sleeping');
    const { calls, runner } = controlled();
    const first = queue.submit(reg, describeRead('/3/0/1'), 60_000, runner('/3/0/1'));
    const second = queue.submit(reg, describeRead('/3/0/2'), 60_000, runner('/3/0/2'));
    expect(calls).toHaveLength(0);
    expect(queue.pending('q').map((d) => [d.target, d.queuedAt, d.deadline])).toEqual([
      ['/3/0/1', 0, 60_000],
      ['/3/0/2', 0, 60_000],
    ]);
    expect(log).toEqual(['requestQueued:q', 'requestQueued:q']);

    clock.advance(20_000);
    queue.registrationMessage(reg);
    expect(queue.state('q')).toBe('awake');
    expect(log.slice(2)).toEqual(['awake:q']);
    expect(calls.map((c) => [c.target, c.remaining])).toEqual([['/3/0/1', 40_000]]);

    calls[0].resolve('one');
    expect(await first).toBe('one');
    await flush();
    expect(calls.map((c) => c.target)).toEqual(['/3/0/1', '/3/0/2']);
    calls[1].resolve('two');
    expect(await second).toBe('two');
    expect(queue.pending('q')).toEqual([]);
  });

  it('fails a waiting request with QueueTimeoutError exactly at its timeout, leaving the others queued', async () => {
    const { queue, registrations, clock } = setup();
    const reg = registration('q', true);
    registrations.set('q', reg);
    const { calls, runner } = controlled();
    const short = queue.submit(reg, describeRead('/3/0/1'), 5000, runner('/3/0/1'));
    const outcome: unknown[] = [];
    short.catch((err: unknown) => outcome.push(err));
    const long = queue.submit(reg, describeRead('/3/0/2'), undefined, runner('/3/0/2'));

    clock.advance(4999);
    await flush();
    expect(outcome).toEqual([]);
    clock.advance(1);
    await flush();
    expect(outcome).toHaveLength(1);
    expect(outcome[0]).toBeInstanceOf(QueueTimeoutError);
    expect(outcome[0]).toBeInstanceOf(DeviceTimeoutError);
    expect((outcome[0] as QueueTimeoutError).message).toBe('device "q" stayed asleep; request /3/0/1 was not sent within 5000 ms');
    expect(queue.pending('q').map((d) => d.target)).toEqual(['/3/0/2']);

    queue.registrationMessage(reg);
    expect(calls.map((c) => [c.target, c.remaining])).toEqual([['/3/0/2', undefined]]);
    calls[0].resolve('late');
    expect(await long).toBe('late');
  });

  it('ends the caller wait with DeviceTimeoutError when its timeout passes while the request is in flight', async () => {
    const { queue, registrations, clock } = setup();
    const reg = registration('q', true);
    registrations.set('q', reg);
    queue.registrationMessage(reg);
    const { calls, runner } = controlled();
    const pending = queue.submit(reg, describeRead('/5/0/3'), 3000, runner('/5/0/3'));
    const caught = pending.catch((err: unknown) => err);
    expect(calls).toHaveLength(1);
    clock.advance(3000);
    const err = await caught;
    expect(err).toBeInstanceOf(DeviceTimeoutError);
    expect(err).not.toBeInstanceOf(QueueTimeoutError);
    expect((err as Error).message).toBe('device "q" did not answer /5/0/3 within 3000 ms');
  });

  it('sends at once while awake and puts the device to sleep when the awake window passes', async () => {
    const { queue, registrations, clock, log } = setup(10_000);
    const reg = registration('q', true);
    registrations.set('q', reg);
    queue.registrationMessage(reg);
    const { calls, runner } = controlled();
    const answer = queue.submit(reg, describeRead('/3/0/0'), undefined, runner('/3/0/0'));
    expect(calls).toHaveLength(1);
    calls[0].resolve('x');
    await answer;
    await flush();
    // The answer at t=0 restarted the window: awake until t=10000.
    clock.advance(9_999);
    queue.tick(clock.now());
    expect(queue.state('q')).toBe('awake');
    clock.advance(1);
    queue.tick(clock.now());
    expect(queue.state('q')).toBe('sleeping');
    expect(log).toEqual(['awake:q', 'sleeping:q']);
    // Asleep: the next request waits.
    void queue.submit(reg, describeRead('/3/0/9'), undefined, runner('/3/0/9')).catch(() => {});
    expect(calls).toHaveLength(1);
  });

  it('an update restarts the awake window without a second awake event', () => {
    const { queue, registrations, clock, log } = setup(10_000);
    const reg = registration('q', true);
    registrations.set('q', reg);
    queue.registrationMessage(reg);
    clock.advance(8_000);
    queue.registrationMessage(reg);
    clock.advance(8_000);
    queue.tick(clock.now());
    expect(queue.state('q')).toBe('awake');
    clock.advance(2_000);
    queue.tick(clock.now());
    expect(queue.state('q')).toBe('sleeping');
    expect(log).toEqual(['awake:q', 'sleeping:q']);
  });

  it('a device that stops answering goes back to sleep and keeps the rest of its queue', async () => {
    const { queue, registrations, log } = setup();
    const reg = registration('q', true);
    registrations.set('q', reg);
    const { calls, runner } = controlled();
    const first = queue.submit(reg, describeRead('/3/0/1'), undefined, runner('/3/0/1')).catch((e: unknown) => e);
    const second = queue.submit(reg, describeRead('/3/0/2'), undefined, runner('/3/0/2'));
    queue.registrationMessage(reg);
    calls[0].reject(new DeviceTimeoutError('q', '/3/0/1', undefined));
    expect(await first).toBeInstanceOf(DeviceTimeoutError);
    await flush();
    expect(queue.state('q')).toBe('sleeping');
    expect(log).toEqual(['requestQueued:q', 'requestQueued:q', 'awake:q', 'sleeping:q']);
    expect(calls).toHaveLength(1);
    expect(queue.pending('q').map((d) => d.target)).toEqual(['/3/0/2']);

    queue.registrationMessage(reg);
    expect(calls).toHaveLength(2);
    calls[1].resolve('back');
    expect(await second).toBe('back');
  });

  it('an error answer keeps the device awake and the queue moving', async () => {
    const { queue, registrations } = setup();
    const reg = registration('q', true);
    registrations.set('q', reg);
    const { calls, runner } = controlled();
    const first = queue.submit(reg, describeRead('/9/0'), undefined, runner('/9/0')).catch((e: unknown) => e);
    const second = queue.submit(reg, describeRead('/3/0'), undefined, runner('/3/0'));
    queue.registrationMessage(reg);
    calls[0].reject(new Error('4.04'));
    expect(((await first) as Error).message).toBe('4.04');
    await flush();
    expect(queue.state('q')).toBe('awake');
    calls[1].resolve('fine');
    expect(await second).toBe('fine');
  });

  it('sends a queued request to the address of the newest registration', async () => {
    const { queue, registrations } = setup();
    const reg = registration('q', true, 1000);
    registrations.set('q', reg);
    const { calls, runner } = controlled();
    const answer = queue.submit(reg, describeRead('/3/0'), undefined, runner('/3/0'));
    const moved = registration('q', true, 2000);
    registrations.set('q', moved);
    queue.registrationMessage(moved);
    expect(calls.map((c) => c.port)).toEqual([2000]);
    calls[0].resolve('ok');
    await answer;
  });

  it('fails waiting requests when the device leaves', async () => {
    const { queue, registrations } = setup();
    const reg = registration('q', true);
    registrations.set('q', reg);
    const { runner } = controlled();
    const waiting = queue.submit(reg, describeRead('/3/0'), 60_000, runner('/3/0')).catch((e: unknown) => e);
    registrations.delete('q');
    queue.removed('q', 'deregistered');
    const err = await waiting;
    expect(err).toBeInstanceOf(UnknownDeviceError);
    expect((err as Error).message).toBe('device "q" deregistered');
    expect(queue.pending('q')).toEqual([]);
  });

  it('sends everything at once when a device leaves queue mode', async () => {
    const { queue, registrations } = setup();
    const reg = registration('q', true);
    registrations.set('q', reg);
    const { calls, runner } = controlled();
    const answer = queue.submit(reg, describeRead('/3/0'), undefined, runner('/3/0'));
    const direct = registration('q', false);
    registrations.set('q', direct);
    queue.registrationMessage(direct);
    expect(calls).toHaveLength(1);
    calls[0].resolve('now');
    expect(await answer).toBe('now');
    await flush();
    expect(queue.state('q')).toBeUndefined();
  });
});
