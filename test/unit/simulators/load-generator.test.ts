import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { runLoad } from '../../../simulators/bench/load-core.js';
import { buildRegisterDatagram, readResponseHeader } from '../../../simulators/bench/register-datagram.js';
import { parseMessage } from '../../../src/coap/codec.js';
import { uriPath, uriQuery } from '../../../src/coap/options.js';

type Answer = (request: Buffer) => Buffer | undefined;

describe('registration load generator', () => {
  const sockets: dgram.Socket[] = [];
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  });

  async function peer(answer: Answer): Promise<number> {
    const socket = dgram.createSocket('udp4');
    sockets.push(socket);
    socket.on('message', (request, remote) => {
      const response = answer(request);
      if (response) socket.send(response, remote.port, remote.address);
    });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    return socket.address().port;
  }

  /** A piggybacked ACK with the request's message ID and token and the given code. */
  const ack = (request: Buffer, code: number, tokenFlip = 0): Buffer => {
    const response = Buffer.from(request.subarray(0, 8));
    response[0] = 0x60 | 4;
    response[1] = code;
    response[7] ^= tokenFlip;
    return response;
  };

  it('builds a CON POST /rd our CoAP codec reads back exactly', () => {
    const datagram = buildRegisterDatagram({ endpointName: 'bench-0000000042', lifetimeSec: 300, messageId: 0x1234, token: 0xdeadbeef });
    const message = parseMessage(datagram);
    expect(message.type).toBe('CON');
    expect(message.code).toBe(0x02);
    expect(message.messageId).toBe(0x1234);
    expect(message.token.toString('hex')).toBe('deadbeef');
    expect(uriPath(message)).toEqual(['rd']);
    expect(uriQuery(message)).toEqual(['ep=bench-0000000042', 'lt=300', 'lwm2m=1.1', 'b=U']);
    expect(message.payload.toString()).toBe('</1/0>,</3/0>,</4/0>,</5/0>');
    expect(readResponseHeader(datagram)).toEqual({ type: 0, code: 2, messageId: 0x1234, token: 0xdeadbeef });
  });

  it('counts exactly the requested registrations, each with a distinct name', async () => {
    const names = new Set<string>();
    const port = await peer((request) => {
      names.add(uriQuery(parseMessage(request))[0]);
      return ack(request, 0x41);
    });
    const result = await runLoad({ host: '127.0.0.1', port, expect: 'created', window: 16, total: 500, namePrefix: 't-' });
    expect(result).toMatchObject({ sent: 500, answered: 500, measuredAnswers: 500, lost: 0, rejected: 0, unmatched: 0 });
    expect(names.size).toBe(500);
  });

  it('moves to a new source port before its message IDs wrap, so no ID repeats per port', async () => {
    const seen = new Set<string>();
    let repeats = 0;
    const ports = new Set<number>();
    const socket = dgram.createSocket('udp4');
    sockets.push(socket);
    socket.on('message', (request, remote) => {
      const key = `${remote.port}/${request.readUInt16BE(2)}`;
      if (seen.has(key)) repeats++;
      seen.add(key);
      ports.add(remote.port);
      socket.send(ack(request, 0x41), remote.port, remote.address);
    });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    const total = 65536 + 100;
    const result = await runLoad({ host: '127.0.0.1', port: socket.address().port, expect: 'created', window: 64, total, namePrefix: 'w-' });
    expect(result.answered).toBe(total);
    expect(repeats).toBe(0);
    expect(ports.size).toBe(2);
  });

  it('does not count answers whose token does not match, nor wrong codes', async () => {
    let n = 0;
    const port = await peer((request) => (n++ % 2 === 0 ? ack(request, 0x41, 0xff) : ack(request, 0x80)));
    const result = await runLoad({
      host: '127.0.0.1',
      port,
      expect: 'created',
      window: 4,
      total: 20,
      namePrefix: 'u-',
      lossTimeoutMs: 150,
    });
    expect(result.answered).toBe(0);
    expect(result.rejected + result.lost).toBe(20);
    expect(result.unmatched).toBe(result.lost);
  });

  it('in timed mode counts an echo peer and reports lost requests of a silent one', async () => {
    const echo = await peer((request) => request);
    const timed = await runLoad({ host: '127.0.0.1', port: echo, expect: 'echo', window: 8, warmupMs: 50, durationMs: 200, namePrefix: 'e-' });
    expect(timed.measuredAnswers).toBeGreaterThan(0);
    expect(timed.rate).toBe((timed.measuredAnswers * 1000) / 200);
    expect(timed.lost).toBe(0);
    const silent = await peer(() => undefined);
    const lost = await runLoad({ host: '127.0.0.1', port: silent, expect: 'created', window: 3, total: 6, namePrefix: 's-', lossTimeoutMs: 100 });
    expect(lost).toMatchObject({ sent: 6, answered: 0, lost: 6 });
  });
});
