import { describe, it, expect } from 'vitest';
import { CoapEndpoint } from '../../../src/coap/endpoint.js';
import { bindUdpTransport } from '../../../src/coap/udp-transport.js';
import { encodeBlock, getBlockOption, getOption, getUintOption } from '../../../src/coap/options.js';
import { CoapCode, CoapOptionNumber, type IncomingRequest } from '../../../src/coap/types.js';
import { LossyTransport, RawPeer, closedAfterEach, endpoint, msg, pattern } from './helpers.js';

const peers = closedAfterEach();
const server = peers.endpoint;
const raw = peers.raw;
const token = Buffer.from('a1b2c3d4', 'hex');
const get = (messageId: number, path: string[], extra: Array<{ number: number; value: Buffer }> = []) =>
  msg({ type: 'CON', code: CoapCode.GET, messageId, token, options: [...path.map((p) => ({ number: 11, value: Buffer.from(p) })), ...extra] });

describe('CoapEndpoint server role', () => {
  it('answers a CON with a piggybacked response carrying the request token and message ID', async () => {
    const s = await server();
    s.setRequestHandler((req) => ({ code: CoapCode.Content, payload: Buffer.from(`hello ${req.path.join('/')} ${req.query.join('&')}`), contentFormat: 0 }));
    const peer = await raw();
    peer.send(msg({ type: 'CON', code: CoapCode.GET, messageId: 0x1234, token, options: [{ number: 11, value: Buffer.from('a') }, { number: 15, value: Buffer.from('x=1') }] }), s.address());
    const res = await peer.nextMessage();
    expect(res).toMatchObject({ type: 'ACK', code: CoapCode.Content, messageId: 0x1234 });
    expect(res.token.equals(token)).toBe(true);
    expect(res.payload.toString()).toBe('hello a x=1');
    expect(getUintOption(res, CoapOptionNumber.ContentFormat)).toBe(0);
  });

  it('two endpoints: request() gets the response, with Location-Path', async () => {
    const s = await server();
    s.setRequestHandler(async (req) => ({ code: CoapCode.Created, locationPath: ['rd', 'x1'], payload: req.payload }));
    const c = await server();
    const res = await c.request(s.address(), { method: 'POST', path: ['rd'], query: ['ep=a'], payload: Buffer.from('</3/0>') });
    expect(res.code).toBe(CoapCode.Created);
    expect(res.payload.toString()).toBe('</3/0>');
    expect(res.message.options.filter((o) => o.number === 8).map((o) => o.value.toString())).toEqual(['rd', 'x1']);
  });

  it('slow handler: empty ACK first, then a separate CON response retransmitted until ACKed', async () => {
    const s = await server({ separateResponseDelayMs: 50, ackTimeoutMs: 100, random: () => 0 });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    s.setRequestHandler(async () => {
      await gate;
      return { code: CoapCode.Content, payload: Buffer.from('late') };
    });
    const peer = await raw();
    peer.send(get(7, ['slow']), s.address());
    const ack = await peer.nextMessage();
    expect(ack).toMatchObject({ type: 'ACK', code: 0, messageId: 7 });
    expect(ack.token.length).toBe(0);
    release();
    const separate = await peer.nextMessage();
    expect(separate).toMatchObject({ type: 'CON', code: CoapCode.Content });
    expect(separate.token.equals(token)).toBe(true);
    expect(separate.payload.toString()).toBe('late');
    // Not acknowledged: it comes again with the same message ID.
    const again = await peer.nextMessage();
    expect(again.messageId).toBe(separate.messageId);
    peer.send(msg({ type: 'ACK', code: 0, messageId: separate.messageId }), s.address());
    expect(await peer.silentFor(400)).toBe(true);
    expect(s.stats().retransmissions).toBe(1);
  });

  it('a duplicate arriving while the handler runs is answered with an empty ACK; the handler runs once', async () => {
    const s = await server({ separateResponseDelayMs: 5000 });
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    s.setRequestHandler(async () => {
      calls++;
      await gate;
      return { code: CoapCode.Changed };
    });
    const peer = await raw();
    peer.send(get(9, ['x']), s.address());
    await new Promise((r) => setTimeout(r, 50));
    peer.send(get(9, ['x']), s.address());
    expect(await peer.nextMessage()).toMatchObject({ type: 'ACK', code: 0, messageId: 9 });
    release();
    const separate = await peer.nextMessage();
    expect(separate).toMatchObject({ type: 'CON', code: CoapCode.Changed });
    peer.send(msg({ type: 'ACK', code: 0, messageId: separate.messageId }), s.address());
    expect(calls).toBe(1);
    expect(s.stats().duplicates).toBe(1);
  });

  it('de-duplicates: the same CON twice gets identical bytes and the handler runs once', async () => {
    const s = await server();
    let calls = 0;
    s.setRequestHandler(() => ({ code: CoapCode.Content, payload: Buffer.from(`call ${++calls}`) }));
    const peer = await raw();
    const datagram = get(42, ['dup']);
    peer.send(datagram, s.address());
    const first = await peer.next();
    peer.send(datagram, s.address());
    const second = await peer.next();
    expect(second.equals(first)).toBe(true);
    expect(calls).toBe(1);
    expect(s.stats().duplicates).toBe(1);
  });

  it('a request that reuses a cached message ID with another token is a new request, not a duplicate', async () => {
    const s = await server();
    let calls = 0;
    s.setRequestHandler((req) => ({ code: CoapCode.Content, payload: Buffer.from(`${req.path.join('/')} ${++calls}`) }));
    const peer = await raw();
    peer.send(get(43, ['old']), s.address());
    expect((await peer.nextMessage()).payload.toString()).toBe('old 1');
    // The same address and port, the same message ID, another token: a device that came back
    // on a port the OS handed out again. It gets its own answer, with its own token.
    const other = Buffer.from('0badf00d', 'hex');
    peer.send(msg({ type: 'CON', code: CoapCode.GET, messageId: 43, token: other, options: [{ number: 11, value: Buffer.from('new') }] }), s.address());
    const answer = await peer.nextMessage();
    expect(answer).toMatchObject({ type: 'ACK', code: CoapCode.Content, messageId: 43 });
    expect(answer.token.equals(other)).toBe(true);
    expect(answer.payload.toString()).toBe('new 2');
    // Its retransmission is a duplicate again: the new answer, not the handler.
    peer.send(msg({ type: 'CON', code: CoapCode.GET, messageId: 43, token: other, options: [{ number: 11, value: Buffer.from('new') }] }), s.address());
    expect((await peer.nextMessage()).payload.toString()).toBe('new 2');
    expect(calls).toBe(2);
    expect(s.stats().duplicates).toBe(1);
  });

  it('a request that reuses the message ID of a response the peer sent is a new request, not a duplicate', async () => {
    const s = await server();
    s.setRequestHandler(() => ({ code: CoapCode.Content, payload: Buffer.from('fresh') }));
    const peer = await raw();
    // A response nobody asked for (a notification of a forgotten observation, say): reset and remembered.
    peer.send(msg({ type: 'CON', code: CoapCode.Content, messageId: 50, token: Buffer.from('77', 'hex'), payload: Buffer.from('x') }), s.address());
    expect(await peer.nextMessage()).toMatchObject({ type: 'RST', messageId: 50 });
    // Its retransmission is a duplicate: the same RST.
    peer.send(msg({ type: 'CON', code: CoapCode.Content, messageId: 50, token: Buffer.from('77', 'hex'), payload: Buffer.from('x') }), s.address());
    expect(await peer.nextMessage()).toMatchObject({ type: 'RST', messageId: 50 });
    // A request on the same message ID is another message: answered, not reset.
    peer.send(get(50, ['x']), s.address());
    const answer = await peer.nextMessage();
    expect(answer).toMatchObject({ type: 'ACK', code: CoapCode.Content, messageId: 50 });
    expect(answer.payload.toString()).toBe('fresh');
    expect(s.stats().duplicates).toBe(1);
  });

  it('NON request gets a NON response', async () => {
    const s = await server();
    s.setRequestHandler(() => ({ code: CoapCode.Content, payload: Buffer.from('n') }));
    const peer = await raw();
    peer.send(msg({ type: 'NON', code: CoapCode.GET, messageId: 5, token }), s.address());
    const res = await peer.nextMessage();
    expect(res.type).toBe('NON');
    expect(res.code).toBe(CoapCode.Content);
    expect(res.token.equals(token)).toBe(true);
  });

  it('CoAP ping (empty CON) gets RST with the same message ID', async () => {
    const s = await server();
    const peer = await raw();
    peer.send(Buffer.from('40000abc', 'hex'), s.address());
    expect((await peer.next()).toString('hex')).toBe('70000abc');
  });

  it('unrecognized critical option → 4.02 with a reason', async () => {
    const s = await server();
    let calls = 0;
    s.setRequestHandler(() => ({ code: CoapCode.Content, payload: Buffer.from(String(++calls)) }));
    const peer = await raw();
    peer.send(get(3, ['a'], [{ number: 2049, value: Buffer.alloc(0) }]), s.address());
    const res = await peer.nextMessage();
    expect(res).toMatchObject({ type: 'ACK', code: CoapCode.BadOption, messageId: 3 });
    expect(res.payload.toString()).toBe('unrecognized critical option 2049');
    expect(calls).toBe(0);
  });

  it('a handler that throws → 5.00, and the endpoint keeps serving', async () => {
    const s = await server();
    s.setRequestHandler((req) => {
      if (req.path[0] === 'boom') throw new Error('kaput');
      if (req.path[0] === 'reject') return Promise.reject(new Error('async kaput'));
      return { code: CoapCode.Content };
    });
    const peer = await raw();
    peer.send(get(1, ['boom']), s.address());
    const res = await peer.nextMessage();
    expect(res.code).toBe(CoapCode.InternalServerError);
    expect(res.payload.toString()).toBe('internal error');
    peer.send(get(2, ['reject']), s.address());
    expect((await peer.nextMessage()).code).toBe(CoapCode.InternalServerError);
    peer.send(get(3, ['ok']), s.address());
    expect((await peer.nextMessage()).code).toBe(CoapCode.Content);
    expect(s.stats().handlerErrors).toBe(2);
  });

  it('malformed CON with a readable header → RST; malformed NON → dropped; both counted', async () => {
    const s = await server();
    const peer = await raw();
    peer.send(Buffer.from('40010077ff', 'hex'), s.address());
    expect((await peer.next()).toString('hex')).toBe('70000077');
    peer.send(Buffer.from('50010078ff', 'hex'), s.address());
    peer.send(Buffer.from('40', 'hex'), s.address());
    expect(await peer.silentFor(150)).toBe(true);
    expect(s.stats().malformed).toBe(3);
  });

  it('Block1 over maxBodyBytes → 4.13 with Size1', async () => {
    const s = await server({ maxBodyBytes: 2000 });
    s.setRequestHandler(() => ({ code: CoapCode.Changed }));
    const peer = await raw();
    const block = (num: number, messageId: number) =>
      msg({ type: 'CON', code: CoapCode.PUT, messageId, token, options: [{ number: 11, value: Buffer.from('fw') }, { number: CoapOptionNumber.Block1, value: encodeBlock({ num, more: true, szx: 6 }) }], payload: pattern(1024) });
    peer.send(block(0, 1), s.address());
    const cont = await peer.nextMessage();
    expect(cont.code).toBe(CoapCode.Continue);
    expect(getBlockOption(cont, CoapOptionNumber.Block1)).toEqual({ num: 0, more: true, szx: 6 });
    peer.send(block(1, 2), s.address());
    const tooLarge = await peer.nextMessage();
    expect(tooLarge.code).toBe(CoapCode.RequestEntityTooLarge);
    expect(getUintOption(tooLarge, CoapOptionNumber.Size1)).toBe(2000);
    // A plain request body over the limit is refused the same way.
    const c = await server();
    const res = await c.request(s.address(), { method: 'PUT', path: ['x'], payload: pattern(2500), blockSzx: 6 });
    expect(res.code).toBe(CoapCode.RequestEntityTooLarge);
    expect(getUintOption(res.message, CoapOptionNumber.Size1)).toBe(2000);
  });

  it('Block1 out of order → 4.08', async () => {
    const s = await server();
    const peer = await raw();
    peer.send(msg({ type: 'CON', code: CoapCode.PUT, messageId: 1, token, options: [{ number: CoapOptionNumber.Block1, value: encodeBlock({ num: 2, more: true, szx: 4 }) }], payload: pattern(256) }), s.address());
    const res = await peer.nextMessage();
    expect(res.code).toBe(CoapCode.RequestEntityIncomplete);
  });

  it('Block2: a 5000-byte response is served in blocks with Size2 and ETag, and read whole by request()', async () => {
    const body = pattern(5000);
    const s = await server();
    let calls = 0;
    s.setRequestHandler(() => {
      calls++;
      return { code: CoapCode.Content, payload: body, contentFormat: 42 };
    });
    const peer = await raw();
    peer.send(get(1, ['big']), s.address());
    const first = await peer.nextMessage();
    expect(first.payload.equals(body.subarray(0, 1024))).toBe(true);
    expect(getBlockOption(first, CoapOptionNumber.Block2)).toEqual({ num: 0, more: true, szx: 6 });
    expect(getUintOption(first, CoapOptionNumber.Size2)).toBe(5000);
    expect(getOption(first, CoapOptionNumber.ETag)?.length).toBe(4);
    peer.send(get(2, ['big'], [{ number: CoapOptionNumber.Block2, value: encodeBlock({ num: 4, more: false, szx: 6 }) }]), s.address());
    const last = await peer.nextMessage();
    expect(getBlockOption(last, CoapOptionNumber.Block2)).toEqual({ num: 4, more: false, szx: 6 });
    expect(last.payload.equals(body.subarray(4096))).toBe(true);
    expect(calls).toBe(1);

    const c = await server();
    const res = await c.request(s.address(), { method: 'GET', path: ['big'] });
    expect(res.payload.equals(body)).toBe(true);
    expect(res.contentFormat).toBe(42);
  });

  it('Block2 with early negotiation: req.blockSzx makes the server send smaller blocks', async () => {
    const body = pattern(5000);
    const inner = await bindUdpTransport({ host: '127.0.0.1', port: 0 });
    const recording = new LossyTransport(inner, 0);
    const s = await server({ transport: recording });
    s.setRequestHandler(() => ({ code: CoapCode.Content, payload: body }));
    const c = await server();
    const res = await c.request(s.address(), { method: 'GET', path: ['big'], blockSzx: 4 });
    expect(res.payload.equals(body)).toBe(true);
    expect(recording.sent.length).toBe(Math.ceil(5000 / 256));
  });
});
