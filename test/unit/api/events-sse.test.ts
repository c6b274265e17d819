import { describe, it, expect, afterEach } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ContentFormat } from '../../../src/lwm2m/formats/types.js';
import { parsePath } from '../../../src/lwm2m/path.js';
import { createHarness, START, type Harness } from './harness.js';

let h: Harness;

afterEach(async () => {
  await h.close();
});

interface Frame {
  event?: string;
  data?: string;
  comment?: string;
}

/** A streaming GET that hands out complete SSE frames as they arrive. */
async function openStream(path: string): Promise<{ headers: http.IncomingHttpHeaders; next(): Promise<Frame>; close(): void }> {
  const { port } = h.app.server.address() as AddressInfo;
  const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path }, resolve).on('error', reject);
  });
  response.setEncoding('utf8');
  let buffer = '';
  const frames: Frame[] = [];
  const waiting: ((frame: Frame) => void)[] = [];
  response.on('data', (chunk: string) => {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame: Frame = {};
      for (const line of buffer.slice(0, end).split('\n')) {
        if (line.startsWith('event: ')) frame.event = line.slice(7);
        else if (line.startsWith('data: ')) frame.data = line.slice(6);
        else if (line.startsWith(':')) frame.comment = line.slice(1).trim();
      }
      buffer = buffer.slice(end + 2);
      const waiter = waiting.shift();
      if (waiter) waiter(frame);
      else frames.push(frame);
    }
  });
  return {
    headers: response.headers,
    next: () => {
      const frame = frames.shift();
      return frame ? Promise.resolve(frame) : new Promise((resolve) => waiting.push(resolve));
    },
    close: () => response.destroy(),
  };
}

/** Skips comment frames (the "connected" line, heartbeats). */
async function nextEvent(stream: { next(): Promise<Frame> }): Promise<{ event: string; data: unknown }> {
  for (;;) {
    const frame = await stream.next();
    if (frame.event !== undefined) return { event: frame.event, data: JSON.parse(frame.data ?? 'null') };
  }
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(condition()).toBe(true);
}

describe('GET /api/events', () => {
  it('streams a REGISTRATION event and removes its listeners when the client disconnects', async () => {
    h = createHarness();
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    const stream = await openStream('/api/events');
    expect(stream.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(await stream.next()).toEqual({ comment: 'connected' });
    expect(h.lwm2m.events.listenerCount('registered')).toBe(1);

    const id = await h.register('dev1');
    const first = await nextEvent(stream);
    expect(first).toEqual({
      event: 'REGISTRATION',
      data: expect.objectContaining({ endpoint: 'dev1', registrationId: id, registrationDate: START, address: '192.0.2.7:56830' }),
    });
    stream.close();
    await until(() => h.lwm2m.events.listenerCount('registered') === 0);
    expect(h.lwm2m.events.listenerCount('notification')).toBe(0);
  });

  it('keeps only one device with ?ep= (Leshan path /api/event works too)', async () => {
    h = createHarness();
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    const other = await openStream('/api/events?ep=other');
    const all = await openStream('/api/event');
    await other.next();
    await all.next();
    await h.register('dev1');
    await h.register('other');
    expect((await nextEvent(all)).data).toMatchObject({ endpoint: 'dev1' });
    expect((await nextEvent(all)).data).toMatchObject({ endpoint: 'other' });
    // The filtered stream's first event is the second registration: dev1's was skipped.
    expect(await nextEvent(other)).toMatchObject({ event: 'REGISTRATION', data: { endpoint: 'other' } });
    other.close();
    all.close();
  });

  it('streams NOTIFICATION, UPDATED, DEREGISTRATION in Leshan shapes, and heartbeats', async () => {
    h = createHarness({ sseHeartbeatMs: 40 });
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    h.device.set(3, { kind: 'instance', id: 0, resources: [{ kind: 'singleResource', id: 0, type: 'string', value: 'ACME' }] });
    const id = await h.register('dev1');
    const stream = await openStream('/api/events?ep=dev1');
    expect(await stream.next()).toEqual({ comment: 'connected' });
    expect(await stream.next()).toEqual({ comment: 'heartbeat' });

    await h.app.inject({ method: 'POST', url: '/api/clients/dev1/3/0/0/observe' });
    h.device.set(3, { kind: 'instance', id: 0, resources: [{ kind: 'singleResource', id: 0, type: 'string', value: 'Other Co' }] });
    h.device.sendNotification(parsePath('/3/0/0'), ContentFormat.TLV);
    expect(await nextEvent(stream)).toEqual({
      event: 'NOTIFICATION',
      data: { ep: 'dev1', kind: 'single', res: '/3/0/0', val: { id: 0, kind: 'singleResource', type: 'STRING', value: 'Other Co' } },
    });

    const payload = Buffer.alloc(0);
    const message = { type: 'CON' as const, code: 2, messageId: 2, token: Buffer.alloc(0), options: [], payload };
    const remote = { address: '192.0.2.7', port: 56831 };
    await h.lwm2m.handleRequest({ remote, method: 'POST', path: ['rd', id], query: ['lt=900'], payload, message });
    const updated = await nextEvent(stream);
    expect(updated.event).toBe('UPDATED');
    expect(updated.data).toMatchObject({
      registration: { endpoint: 'dev1', lifetime: 900, address: '192.0.2.7:56831' },
      update: { registrationId: id, address: '192.0.2.7:56831', lifeTimeInSec: 900, bindingMode: 'U' },
    });
    await h.lwm2m.handleRequest({ remote, method: 'DELETE', path: ['rd', id], query: [], payload, message: { ...message, code: 4 } });
    expect(await nextEvent(stream)).toMatchObject({ event: 'DEREGISTRATION', data: { endpoint: 'dev1', registrationId: id } });
    stream.close();
  });

  it('streams AWAKE, SLEEPING, SEND and EXPIRED', async () => {
    h = createHarness();
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    const stream = await openStream('/api/events');
    await stream.next();
    await h.register('q1', { query: ['lt=300', 'lwm2m=1.1', 'b=U', 'Q'] });
    const registration = await nextEvent(stream);
    expect(registration).toMatchObject({ event: 'REGISTRATION', data: { endpoint: 'q1', queuemode: true, sleeping: false } });
    expect(await nextEvent(stream)).toEqual({ event: 'AWAKE', data: { ep: 'q1' } });

    const payload = Buffer.from('[{"bn":"/3/0/","n":"0","vs":"ACME","t":1700000000},{"n":"0","vs":"ACME 2","t":1700000005}]');
    const message = { type: 'CON' as const, code: 2, messageId: 3, token: Buffer.alloc(0), options: [], payload };
    const answer = await h.lwm2m.handleRequest({
      remote: { address: '192.0.2.7', port: 56830 }, method: 'POST', path: ['dp'], query: [], payload, contentFormat: ContentFormat.SENML_JSON, message,
    });
    expect(answer.code).toBe(0x44);
    // The most recent value of each path, as Leshan shows a Send.
    expect(await nextEvent(stream)).toEqual({
      event: 'SEND',
      data: { ep: 'q1', val: { '/3/0/0': { id: 0, kind: 'singleResource', type: 'STRING', value: 'ACME 2' } } },
    });

    h.clock.advance(94_000);
    h.lwm2m.sweep();
    expect(await nextEvent(stream)).toEqual({ event: 'SLEEPING', data: { ep: 'q1' } });
    h.clock.advance(300_000);
    h.lwm2m.sweep();
    expect(await nextEvent(stream)).toMatchObject({ event: 'EXPIRED', data: { endpoint: 'q1' } });
    stream.close();
  });

  it('ends open streams when the API closes', async () => {
    h = createHarness();
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = h.app.server.address() as AddressInfo;
    const ended = new Promise<string>((resolve) => {
      http.get({ host: '127.0.0.1', port, path: '/api/events' }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve(text));
      });
    });
    await until(() => h.lwm2m.events.listenerCount('registered') === 1);
    await h.app.close();
    expect(await ended).toBe(': connected\n\n');
    expect(h.lwm2m.events.listenerCount('registered')).toBe(0);
  });
});
