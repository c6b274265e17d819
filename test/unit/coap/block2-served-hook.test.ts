/**
 * CoapEndpoint.onBlock2Served: told of every Block2 block sent, including blocks 1..n the
 * endpoint answers from its cache without running the request handler again.
 */
import { describe, it, expect, afterEach } from 'vitest';
import type { Block2Served, CoapEndpoint } from '../../../src/coap/endpoint.js';
import { encodeBlock, getBlockOption } from '../../../src/coap/options.js';
import { bindUdpTransport } from '../../../src/coap/udp-transport.js';
import { CoapCode, CoapOptionNumber, type DatagramTransport, type OutgoingResponse, type PeerIdentity, type RemoteAddress } from '../../../src/coap/types.js';
import { RawPeer, endpoint, msg, pattern } from './helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
async function open(): Promise<CoapEndpoint> {
  const e = await endpoint({});
  cleanups.push(() => e.close());
  return e;
}

describe('CoapEndpoint Block2 served hook', () => {
  it('reports each block of a 2,500-byte body once, in order, with the response object; the handler runs once', async () => {
    const server = await open();
    const client = await open();
    const body = pattern(2500);
    const response: OutgoingResponse = { code: CoapCode.Content, payload: body, contentFormat: 42 };
    let handled = 0;
    server.setRequestHandler(() => {
      handled++;
      return response;
    });
    const served: Block2Served[] = [];
    server.onBlock2Served((s) => served.push(s));
    const res = await client.request(server.address(), { method: 'GET', path: ['image'] });
    expect(res.payload.equals(body)).toBe(true);
    expect(handled).toBe(1);
    expect(served.map((s) => [s.num, s.szx, s.bytesThrough, s.total])).toEqual([
      [0, 6, 1024, 2500],
      [1, 6, 2048, 2500],
      [2, 6, 2500, 2500],
    ]);
    expect(served.every((s) => s.response === response)).toBe(true);
  });

  it('is not called for a body that fits one datagram, and stops when unset', async () => {
    const server = await open();
    const client = await open();
    server.setRequestHandler(() => ({ code: CoapCode.Content, payload: pattern(100) }));
    const served: Block2Served[] = [];
    server.onBlock2Served((s) => served.push(s));
    await client.request(server.address(), { method: 'GET', path: ['small'] });
    expect(served).toEqual([]);
    server.setRequestHandler(() => ({ code: CoapCode.Content, payload: pattern(1500) }));
    server.onBlock2Served(undefined);
    const res = await client.request(server.address(), { method: 'GET', path: ['big'] });
    expect(res.payload.length).toBe(1500);
    expect(served).toEqual([]);
  });

  it('answers a duplicated continuation GET (same message ID) with the same block again', async () => {
    const server = await open();
    const body = pattern(3000);
    server.setRequestHandler(() => ({ code: CoapCode.Content, payload: body }));
    const served: number[] = [];
    server.onBlock2Served((s) => served.push(s.num));
    const peer = await RawPeer.open();
    cleanups.push(() => peer.close());
    const token = Buffer.from('0102', 'hex');
    const block = (messageId: number, num: number) =>
      msg({ type: 'CON', code: CoapCode.GET, messageId, token, options: [{ number: 11, value: Buffer.from('img') }, { number: CoapOptionNumber.Block2, value: encodeBlock({ num, more: false, szx: 6 }) }] });
    peer.send(block(7, 0), server.address());
    expect(getBlockOption(await peer.nextMessage(), CoapOptionNumber.Block2)).toEqual({ num: 0, more: true, szx: 6 });
    peer.send(block(8, 1), server.address());
    const first = await peer.nextMessage();
    peer.send(block(8, 1), server.address());
    const again = await peer.nextMessage();
    expect(again.messageId).toBe(8);
    expect(again.type).toBe('ACK');
    expect(again.payload.equals(body.subarray(1024, 2048))).toBe(true);
    expect(again.payload.equals(first.payload)).toBe(true);
    expect(getBlockOption(again, CoapOptionNumber.Block2)).toEqual({ num: 1, more: true, szx: 6 });
    expect(served).toEqual([0, 1, 1]);
  });

  it('asks the handler again when another authenticated identity continues from the same address', async () => {
    // A real UDP transport that reports a DTLS-style peer identity the test can switch.
    const udp = await bindUdpTransport({ host: '127.0.0.1', port: 0 });
    let identity: PeerIdentity = { kind: 'psk', identity: 'device-a' };
    const transport: DatagramTransport = {
      send: (datagram: Buffer, remote: RemoteAddress) => udp.send(datagram, remote),
      onDatagram: (handler) => udp.onDatagram(handler),
      address: () => udp.address(),
      close: () => udp.close(),
      peerIdentity: () => identity,
    };
    const server = await endpoint({ transport });
    cleanups.push(() => server.close());
    const askedBy: string[] = [];
    server.setRequestHandler((request) => {
      askedBy.push(request.security?.identity ?? 'none');
      return { code: CoapCode.Content, payload: pattern(3000) };
    });
    const peer = await RawPeer.open();
    cleanups.push(() => peer.close());
    const block = (messageId: number, num: number) =>
      msg({ type: 'CON', code: CoapCode.GET, messageId, token: Buffer.from('0304', 'hex'), options: [{ number: 11, value: Buffer.from('img') }, { number: CoapOptionNumber.Block2, value: encodeBlock({ num, more: false, szx: 6 }) }] });
    peer.send(block(1, 0), server.address());
    await peer.nextMessage();
    peer.send(block(2, 1), server.address());
    await peer.nextMessage();
    expect(askedBy).toEqual(['device-a']);
    identity = { kind: 'psk', identity: 'device-b' };
    peer.send(block(3, 2), server.address());
    await peer.nextMessage();
    expect(askedBy).toEqual(['device-a', 'device-b']);
  });
});
