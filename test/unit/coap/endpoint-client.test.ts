import { describe, it, expect } from 'vitest';
import { CoapEndpoint } from '../../../src/coap/endpoint.js';
import { bindUdpTransport } from '../../../src/coap/udp-transport.js';
import { encodeBlock, encodeUint, getBlockOption, getUintOption } from '../../../src/coap/options.js';
import { CoapCode, CoapOptionNumber, CoapResetError, CoapTimeoutError, type CoapMessage } from '../../../src/coap/types.js';
import { ManualClock } from '../../../src/util/clock.js';
import { LossyTransport, RawPeer, closedAfterEach, endpoint, msg, pattern } from './helpers.js';

const peers = closedAfterEach();
const ep = peers.endpoint;
const raw = peers.raw;
async function lossy(dropFirst: number): Promise<LossyTransport> {
  return new LossyTransport(await bindUdpTransport({ host: '127.0.0.1', port: 0 }), dropFirst);
}
const tick = () => new Promise((r) => setTimeout(r, 20));

describe('CoapEndpoint client role', () => {
  it('retransmits a CON whose first two transmissions are lost, and gets the response', async () => {
    const s = await ep();
    s.setRequestHandler(() => ({ code: CoapCode.Content, payload: Buffer.from('ok') }));
    const transport = await lossy(2);
    const c = await ep({ transport, ackTimeoutMs: 30, random: () => 0 });
    const res = await c.request(s.address(), { method: 'GET', path: ['x'] });
    expect(res.payload.toString()).toBe('ok');
    expect(transport.sends).toBe(3);
    expect(c.stats().retransmissions).toBe(2);
  });

  it('gives up with CoapTimeoutError after 1 + MAX_RETRANSMIT sends, on the RFC 7252 back-off schedule', async () => {
    const clock = new ManualClock();
    const peer = await raw();
    const transport = await lossy(Infinity);
    const c = await ep({ transport, clock, ackTimeoutMs: 2000, random: () => 0.5 });
    let error: unknown;
    const done = c.request(peer.address(), { method: 'GET', path: ['x'] }).catch((e) => (error = e));
    expect(transport.sends).toBe(1);
    // First timeout: 2000 * (1 + 0.5 * 0.5) = 2500 ms, then doubled each time.
    const waits = [2500, 5000, 10000, 20000];
    for (let i = 0; i < waits.length; i++) {
      clock.advance(waits[i] - 1);
      expect(transport.sends).toBe(i + 1);
      clock.advance(1);
      expect(transport.sends).toBe(i + 2);
    }
    clock.advance(39_999);
    await tick();
    expect(error).toBeUndefined();
    clock.advance(1);
    await done;
    expect(error).toBeInstanceOf(CoapTimeoutError);
    expect(transport.sends).toBe(5);
  });

  it('RST to our CON → CoapResetError', async () => {
    const peer = await raw();
    peer.serve((m, from) => peer.send(msg({ type: 'RST', code: 0, messageId: m.messageId }), from));
    const c = await ep();
    await expect(c.request(peer.address(), { method: 'GET', path: ['x'] })).rejects.toBeInstanceOf(CoapResetError);
  });

  it('empty ACK then a separate CON response, which we ACK; a NON separate response is accepted too', async () => {
    const peer = await raw();
    const acks: number[] = [];
    peer.serve((m, from) => {
      if (m.type === 'ACK') {
        acks.push(m.messageId);
        return;
      }
      peer.send(msg({ type: 'ACK', code: 0, messageId: m.messageId }), from);
      const separateType = m.options.some((o) => o.value.toString() === 'non') ? 'NON' : 'CON';
      setTimeout(() => peer.send(msg({ type: separateType, code: CoapCode.Content, messageId: 0x5000 + m.messageId % 100, token: m.token, payload: Buffer.from(separateType) }), from), 30);
    });
    const c = await ep();
    const res = await c.request(peer.address(), { method: 'GET', path: ['con'] });
    expect(res.payload.toString()).toBe('CON');
    await tick();
    expect(acks.length).toBe(1);
    const res2 = await c.request(peer.address(), { method: 'GET', path: ['non'] });
    expect(res2.payload.toString()).toBe('NON');
  });

  it('NON request resolves with the NON response', async () => {
    const s = await ep();
    s.setRequestHandler(() => ({ code: CoapCode.Valid }));
    const c = await ep();
    expect((await c.request(s.address(), { method: 'GET', path: ['a'], confirmable: false })).code).toBe(CoapCode.Valid);
  });

  it('close() rejects pending requests with "endpoint closed"', async () => {
    const peer = await raw();
    const c = await endpoint();
    const pending = c.request(peer.address(), { method: 'GET' });
    await c.close();
    await expect(pending).rejects.toThrow('endpoint closed');
  });

  it('Block1 upload of 5000 bytes to a peer that answers 4.13 Size1=256: restarts with 256-byte blocks', async () => {
    const payload = pattern(5000);
    const peer = await raw();
    const received: Buffer[] = [];
    let tooLargeSent = 0;
    peer.serve((m, from) => {
      const block = getBlockOption(m, CoapOptionNumber.Block1)!;
      const reply = (code: number, options: CoapMessage['options']) => peer.send(msg({ type: 'ACK', code, messageId: m.messageId, token: m.token, options }), from);
      if (block.szx > 4) {
        tooLargeSent++;
        reply(CoapCode.RequestEntityTooLarge, [{ number: CoapOptionNumber.Size1, value: encodeUint(256) }]);
        return;
      }
      expect(block.num * 256).toBe(received.reduce((n, b) => n + b.length, 0));
      received.push(Buffer.from(m.payload));
      const echo = [{ number: CoapOptionNumber.Block1, value: encodeBlock(block) }];
      reply(block.more ? CoapCode.Continue : CoapCode.Changed, echo);
    });
    const c = await ep();
    const progress: number[] = [];
    const res = await c.request(peer.address(), { method: 'PUT', path: ['5', '0', '0'], payload, onProgress: (n, total) => { expect(total).toBe(5000); progress.push(n); } });
    expect(res.code).toBe(CoapCode.Changed);
    expect(tooLargeSent).toBe(1);
    expect(Buffer.concat(received).equals(payload)).toBe(true);
    expect(progress).toEqual([...Array.from({ length: 19 }, (_, i) => (i + 1) * 256), 5000]);
  });

  it('Block1 upload of 5000 bytes to our server asking a smaller SZX in 2.31: exact bytes, monotonic progress', async () => {
    const payload = pattern(5000);
    const s = await ep({ preferredBlockSzx: 4 });
    let got: Buffer | undefined;
    let calls = 0;
    s.setRequestHandler((req) => {
      calls++;
      got = req.payload;
      return { code: CoapCode.Changed };
    });
    const c = await ep();
    const progress: number[] = [];
    const res = await c.request(s.address(), { method: 'PUT', path: ['fw'], payload, onProgress: (n) => progress.push(n) });
    expect(res.code).toBe(CoapCode.Changed);
    expect(calls).toBe(1);
    expect(got!.equals(payload)).toBe(true);
    // First block went at 1024, then 256-byte blocks from offset 1024.
    expect(progress).toEqual([1024, ...Array.from({ length: 15 }, (_, i) => 1024 + (i + 1) * 256), 5000]);
  });

  it('timeoutMs is a no-progress timeout: a slow but progressing upload completes', async () => {
    const payload = pattern(2048);
    const peer = await raw();
    peer.serve((m, from) => {
      const block = getBlockOption(m, CoapOptionNumber.Block1)!;
      setTimeout(() => peer.send(msg({ type: 'ACK', code: block.more ? CoapCode.Continue : CoapCode.Changed, messageId: m.messageId, token: m.token, options: [{ number: CoapOptionNumber.Block1, value: encodeBlock(block) }] }), from), 100);
    });
    const c = await ep({ ackTimeoutMs: 2000 });
    // 8 blocks answered 100 ms apart: the whole upload (~800 ms) outlasts the 500 ms timeout,
    // but no gap between two answers does.
    const started = Date.now();
    const res = await c.request(peer.address(), { method: 'PUT', payload, blockSzx: 4, timeoutMs: 500 });
    expect(res.code).toBe(CoapCode.Changed);
    expect(Date.now() - started).toBeGreaterThan(500);
    const silent = await raw();
    await expect(c.request(silent.address(), { method: 'GET', timeoutMs: 100 })).rejects.toBeInstanceOf(CoapTimeoutError);
  });

  it('responses are matched by token AND remote', async () => {
    const peer = await raw();
    const other = await raw();
    let got = 0;
    peer.serve((m) => {
      got++;
      // A response with the right token and ID, but from another address, must be ignored.
      other.send(msg({ type: 'ACK', code: CoapCode.Content, messageId: m.messageId, token: m.token }), c.address());
    });
    const c = await ep({ ackTimeoutMs: 50, maxRetransmit: 1, random: () => 0 });
    await expect(c.request(peer.address(), { method: 'GET' })).rejects.toBeInstanceOf(CoapTimeoutError);
    expect(got).toBe(2);
  });
});
