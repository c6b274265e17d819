import { describe, it, expect, afterEach } from 'vitest';
import { CoapEndpoint } from '../../../src/coap/endpoint.js';
import { encodeUint, getOption, getUintOption, uriPath } from '../../../src/coap/options.js';
import { CoapCode, CoapOptionNumber, CoapResponseError, type CoapMessage, type IncomingResponse } from '../../../src/coap/types.js';
import { RawPeer, endpoint, msg, pattern } from './helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
async function ep(): Promise<CoapEndpoint> {
  const e = await endpoint();
  cleanups.push(() => e.close());
  return e;
}
async function raw(): Promise<RawPeer> {
  const p = await RawPeer.open();
  cleanups.push(() => p.close());
  return p;
}
const observeOpt = (n: number) => ({ number: CoapOptionNumber.Observe, value: encodeUint(n) });
const waitFor = async (cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(cond()).toBe(true);
};

/** A raw device: answers the observe GET, then lets the test push notifications. */
async function observedByRawDevice(): Promise<{ peer: RawPeer; c: CoapEndpoint; request: CoapMessage; notes: IncomingResponse[]; observation: Awaited<ReturnType<CoapEndpoint['observe']>> }> {
  const peer = await raw();
  const c = await ep();
  const notes: IncomingResponse[] = [];
  const pending = c.observe(peer.address(), { method: 'GET', path: ['3', '0', '9'] }, (n) => notes.push(n));
  const request = await peer.nextMessage();
  peer.send(msg({ type: 'ACK', code: CoapCode.Content, messageId: request.messageId, token: request.token, options: [observeOpt(5)], payload: Buffer.from('50') }), c.address());
  const observation = await pending;
  return { peer, c, request, notes, observation };
}

describe('CoapEndpoint observe (RFC 7641)', () => {
  it('registers with Observe=0, delivers notifications, ACKs CON ones, drops stale ones', async () => {
    const { peer, c, request, notes, observation } = await observedByRawDevice();
    expect(getOption(request, CoapOptionNumber.Observe)?.length).toBe(0);
    expect(uriPath(request)).toEqual(['3', '0', '9']);
    expect(observation.first.observe).toBe(5);
    expect(observation.first.payload.toString()).toBe('50');
    expect(observation.token.equals(request.token)).toBe(true);

    const note = (type: 'CON' | 'NON', messageId: number, seq: number, value: string) =>
      peer.send(msg({ type, code: CoapCode.Content, messageId, token: request.token, options: [observeOpt(seq)], payload: Buffer.from(value) }), c.address());
    note('NON', 100, 6, '49');
    await waitFor(() => notes.length === 1);
    note('CON', 101, 7, '48');
    const ack = await peer.nextMessage();
    expect(ack).toMatchObject({ type: 'ACK', code: 0, messageId: 101 });
    await waitFor(() => notes.length === 2);
    note('NON', 102, 6, '47'); // older than 7: dropped
    note('NON', 103, 8, '46');
    await waitFor(() => notes.length === 3);
    expect(notes.map((n) => [n.observe, n.payload.toString()])).toEqual([[6, '49'], [7, '48'], [8, '46']]);
    expect(c.stats().staleNotifications).toBe(1);
  });

  it('cancel() sends GET with Observe=1 and the same token; later notifications get RST', async () => {
    const { peer, c, request, notes, observation } = await observedByRawDevice();
    const cancelled = observation.cancel();
    const deregister = await peer.nextMessage();
    expect(deregister.code).toBe(CoapCode.GET);
    expect(getUintOption(deregister, CoapOptionNumber.Observe)).toBe(1);
    expect(deregister.token.equals(request.token)).toBe(true);
    expect(uriPath(deregister)).toEqual(['3', '0', '9']);
    peer.send(msg({ type: 'ACK', code: CoapCode.Content, messageId: deregister.messageId, token: deregister.token, payload: Buffer.from('50') }), c.address());
    await cancelled;
    peer.send(msg({ type: 'CON', code: CoapCode.Content, messageId: 200, token: request.token, options: [observeOpt(9)] }), c.address());
    expect(await peer.nextMessage()).toMatchObject({ type: 'RST', code: 0, messageId: 200 });
    expect(notes.length).toBe(0);
  });

  it('a notification for an unknown token → RST, unless onUnknownNotification keeps it', async () => {
    const peer = await raw();
    const c = await ep();
    const unknown = Buffer.from('0badc0de', 'hex');
    peer.send(msg({ type: 'CON', code: CoapCode.Content, messageId: 1, token: unknown, options: [observeOpt(3)] }), c.address());
    expect(await peer.nextMessage()).toMatchObject({ type: 'RST', messageId: 1 });
    const seen: number[] = [];
    c.onUnknownNotification((n) => {
      seen.push(n.observe!);
      return 'keep';
    });
    peer.send(msg({ type: 'CON', code: CoapCode.Content, messageId: 2, token: unknown, options: [observeOpt(4)] }), c.address());
    expect(await peer.nextMessage()).toMatchObject({ type: 'ACK', code: 0, messageId: 2 });
    expect(seen).toEqual([4]);
  });

  it('an error answer rejects with CoapResponseError; an answer without Observe never notifies', async () => {
    const s = await ep();
    s.setRequestHandler((req) => (req.path[0] === 'missing' ? { code: CoapCode.NotFound } : { code: CoapCode.Content, payload: Buffer.from('plain') }));
    const c = await ep();
    await expect(c.observe(s.address(), { method: 'GET', path: ['missing'] }, () => {})).rejects.toBeInstanceOf(CoapResponseError);
    const plain = await c.observe(s.address(), { method: 'GET', path: ['plain'] }, () => {});
    expect(plain.first.observe).toBeUndefined();
    expect(plain.first.payload.toString()).toBe('plain');
    expect(c.stats().observations).toBe(0);
  });

  it('endpoint to endpoint: notify() CON is ACKed; a large notification is completed by Block2 GETs', async () => {
    const device = await ep();
    const big = pattern(3000);
    let observer: { remote: IncomingResponse['remote']; token: Buffer } | undefined;
    device.setRequestHandler((req) => {
      if (req.observe === 0) observer = { remote: req.remote, token: req.message.token };
      return { code: CoapCode.Content, payload: Buffer.from('v1'), options: req.observe === 0 ? [observeOpt(1)] : [] };
    });
    const server = await ep();
    const notes: IncomingResponse[] = [];
    const observation = await server.observe(device.address(), { method: 'GET', path: ['3', '0', '13'] }, (n) => notes.push(n));
    expect(observation.first.payload.toString()).toBe('v1');
    await device.notify(observer!.remote, observer!.token, { code: CoapCode.Content, payload: Buffer.from('v2'), options: [observeOpt(2)] }, { confirmable: true });
    await waitFor(() => notes.length === 1);
    await device.notify(observer!.remote, observer!.token, { code: CoapCode.Content, payload: big, options: [observeOpt(3)] }, { path: ['3', '0', '13'] });
    await waitFor(() => notes.length === 2);
    expect(notes[0].payload.toString()).toBe('v2');
    expect(notes[1].observe).toBe(3);
    expect(notes[1].payload.equals(big)).toBe(true);
  });
});
