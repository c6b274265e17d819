import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { parseMessage, serializeMessage } from '../../../src/coap/codec.js';
import { encodeBlock, encodeUint, getBlockOption } from '../../../src/coap/options.js';
import { CoapCode, CoapOptionNumber, type CoapOption } from '../../../src/coap/types.js';
import { connectUdpTransport } from '../../../simulators/device/firmware/connected-udp.js';
import { BlockPuller, PullError, type BlockReceived } from '../../../simulators/device/firmware/pull-client.js';

/**
 * The device's block puller against a bare UDP server that answers each GET for a block of
 * `body` with the options `shape` gives it: the puller reads the usual answer straight from
 * the datagram, and every other shape must still be handled as the general path would.
 */
interface Shape {
  etag: (num: number) => Buffer;
  /** Size2 on this block (the server's own choice; ours sends it with block 0 only). */
  size2?: (num: number) => boolean;
  extra?: (num: number) => CoapOption[];
}

const body = Buffer.from(Array.from({ length: 5 * 64 + 10 }, (_, i) => (i * 7) & 0xff));
const SZX = 2; // 64-byte blocks

let server: Socket | undefined;
const closers: Array<() => Promise<void>> = [];

afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
  server?.close();
  server = undefined;
});

async function startServer(shape: Shape): Promise<number> {
  server = createSocket('udp4');
  const socket = server;
  socket.on('message', (datagram, rinfo) => {
    const request = parseMessage(datagram);
    const block = getBlockOption(request, CoapOptionNumber.Block2) ?? { num: 0, more: false, szx: SZX };
    const size = 16 << block.szx;
    const chunk = body.subarray(block.num * size, (block.num + 1) * size);
    const more = (block.num + 1) * size < body.length;
    const options: CoapOption[] = [
      { number: CoapOptionNumber.ETag, value: shape.etag(block.num) },
      { number: CoapOptionNumber.ContentFormat, value: encodeUint(42) },
      { number: CoapOptionNumber.Block2, value: encodeBlock({ num: block.num, more, szx: block.szx }) },
      ...(shape.size2?.(block.num) ? [{ number: CoapOptionNumber.Size2, value: encodeUint(body.length) }] : []),
      ...(shape.extra?.(block.num) ?? []),
    ];
    const answer = serializeMessage({ type: 'ACK', code: CoapCode.Content, messageId: request.messageId, token: request.token, options, payload: chunk });
    socket.send(answer, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return socket.address().port;
}

async function pull(port: number, from: { offset: number; etag?: Buffer }): Promise<{ blocks: BlockReceived[]; error?: unknown }> {
  const transport = await connectUdpTransport('127.0.0.1', { address: '127.0.0.1', port });
  closers.push(() => transport.close());
  const puller = new BlockPuller(transport);
  const blocks: BlockReceived[] = [];
  try {
    await puller.pull({
      target: { remote: { address: '127.0.0.1', port }, path: ['fw', 'abc'], query: [], secure: false },
      szx: SZX,
      offset: from.offset,
      etag: from.etag,
      ackTimeoutMs: 500,
      maxRetransmit: 1,
      onBlock: (block) => {
        // Copied: the payload is a view of the datagram.
        blocks.push({ ...block, payload: Buffer.from(block.payload) });
      },
    });
    return { blocks };
  } catch (error) {
    return { blocks, error };
  }
}

const ETAG = Buffer.from([1, 2, 3, 4]);

describe('BlockPuller', () => {
  it('receives every block in order, with the total from block 0 and the ETag', async () => {
    const port = await startServer({ etag: () => ETAG, size2: (num) => num === 0 });
    const { blocks, error } = await pull(port, { offset: 0 });
    expect(error).toBeUndefined();
    expect(blocks.map((b) => b.offset)).toEqual([0, 64, 128, 192, 256, 320]);
    expect(blocks.map((b) => b.last)).toEqual([false, false, false, false, false, true]);
    expect(blocks.every((b) => b.total === body.length && b.etag?.equals(ETAG))).toBe(true);
    expect(Buffer.concat(blocks.map((b) => b.payload)).equals(body)).toBe(true);
  });

  it('fails with "changed" when a later block comes with another ETag', async () => {
    const port = await startServer({ etag: (num) => (num < 3 ? ETAG : Buffer.from([9, 9, 9, 9])) });
    const { blocks, error } = await pull(port, { offset: 0 });
    expect(blocks.map((b) => b.offset)).toEqual([0, 64, 128]);
    expect(error).toBeInstanceOf(PullError);
    expect((error as PullError).kind).toBe('changed');
  });

  it('fails with "changed" when an ETag of another length comes back', async () => {
    const port = await startServer({ etag: (num) => (num < 2 ? ETAG : Buffer.from([1, 2, 3])) });
    const { blocks, error } = await pull(port, { offset: 0 });
    expect(blocks.map((b) => b.offset)).toEqual([0, 64]);
    expect((error as PullError).kind).toBe('changed');
  });

  it('takes the total from the first Size2 seen when resuming with a known ETag', async () => {
    // A resumed pull holds the ETag before its first answer: the Size2 on block 2 must still be read.
    const port = await startServer({ etag: () => ETAG, size2: (num) => num === 2 });
    const { blocks, error } = await pull(port, { offset: 128, etag: ETAG });
    expect(error).toBeUndefined();
    expect(blocks.map((b) => [b.offset, b.total])).toEqual([
      [128, body.length],
      [192, body.length],
      [256, body.length],
      [320, body.length],
    ]);
    expect(Buffer.concat(blocks.map((b) => b.payload)).equals(body.subarray(128))).toBe(true);
  });

  it('accepts blocks that carry options it does not need (Max-Age), and Size2 on every block', async () => {
    const port = await startServer({ etag: () => ETAG, size2: () => true, extra: () => [{ number: CoapOptionNumber.MaxAge, value: encodeUint(30) }] });
    const { blocks, error } = await pull(port, { offset: 0 });
    expect(error).toBeUndefined();
    expect(Buffer.concat(blocks.map((b) => b.payload)).equals(body)).toBe(true);
  });
});
