import { describe, it, expect } from 'vitest';
import { encodeBlock, getBlockOption } from '../../../src/coap/options.js';
import { CoapCode, CoapOptionNumber, type CoapOption } from '../../../src/coap/types.js';
import { closedAfterEach, msg, pattern } from './helpers.js';

/**
 * The endpoint remembers, per peer, the Block2 key of the body it fetched last (so a pull
 * does not build that key for every block): whatever it remembers, a block must come from
 * the body of the very path, query and peer that asked.
 */
const peers = closedAfterEach();

const block = (messageId: number, path: string[], query: string[], num: number) =>
  msg({
    type: 'CON',
    code: CoapCode.GET,
    messageId,
    token: Buffer.from([messageId & 0xff]),
    options: [
      ...path.map((s): CoapOption => ({ number: CoapOptionNumber.UriPath, value: Buffer.from(s) })),
      ...query.map((s): CoapOption => ({ number: CoapOptionNumber.UriQuery, value: Buffer.from(s) })),
      { number: CoapOptionNumber.Block2, value: encodeBlock({ num, more: false, szx: 6 }) },
    ],
  });

describe('Block2 bodies per peer, path and query', () => {
  it('serves each of two bodies fetched in turn by one peer, and by two peers, from its own body', async () => {
    const bodies: Record<string, Buffer> = { 'a?': pattern(3000), 'b?': pattern(3000).reverse(), 'a?v=2': Buffer.alloc(3000, 0x5a) };
    const s = await peers.endpoint();
    let calls = 0;
    s.setRequestHandler((request) => {
      calls++;
      return { code: CoapCode.Content, payload: bodies[`${request.path.join('/')}?${request.query.join('&')}`] };
    });
    const one = await peers.raw();
    const two = await peers.raw();
    let mid = 1;
    const fetchBlock = async (peer: typeof one, path: string, query: string[], num: number): Promise<Buffer> => {
      peer.send(block(mid++, [path], query, num), s.address());
      const answer = await peer.nextMessage();
      expect(answer.code).toBe(CoapCode.Content);
      expect(getBlockOption(answer, CoapOptionNumber.Block2)?.num).toBe(num);
      return answer.payload;
    };
    // Block 0 of each puts the body in the cache; later blocks come from it, in turns.
    for (const [path, query] of [['a', []], ['b', []], ['a', ['v=2']]] as const) await fetchBlock(one, path, [...query], 0);
    await fetchBlock(two, 'b', [], 0);
    expect(calls).toBe(4);
    for (const num of [1, 2]) {
      for (const [peer, path, query] of [[one, 'a', []], [one, 'b', []], [two, 'b', []], [one, 'a', ['v=2']], [one, 'a', []]] as const) {
        const payload = await fetchBlock(peer, path, [...query], num);
        expect(payload.equals(bodies[`${path}?${query.join('&')}`].subarray(num * 1024, (num + 1) * 1024))).toBe(true);
      }
    }
    // Every later block was served from a cached body, none by asking the handler again.
    expect(calls).toBe(4);
  });

  it('asks the handler again for a path the peer has no cached body for', async () => {
    const s = await peers.endpoint();
    const seen: string[] = [];
    s.setRequestHandler((request) => {
      seen.push(request.path.join('/'));
      return { code: CoapCode.Content, payload: pattern(3000) };
    });
    const peer = await peers.raw();
    peer.send(block(1, ['x'], [], 0), s.address());
    await peer.nextMessage();
    // Same peer, a path with the same first segment and one more: not the cached body's key.
    peer.send(block(2, ['x', 'y'], [], 1), s.address());
    await peer.nextMessage();
    peer.send(block(3, ['x'], [], 1), s.address());
    await peer.nextMessage();
    expect(seen).toEqual(['x', 'x/y']);
  });
});
