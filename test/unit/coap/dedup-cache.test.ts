import { describe, expect, it } from 'vitest';
import { DedupCache } from '../../../src/coap/dedup-cache.js';
import { peerKey } from '../../../src/coap/peer-key.js';
import { ManualClock } from '../../../src/util/clock.js';

describe('peerKey', () => {
  it('packs an IPv4 address and port into one exact integer', () => {
    expect(peerKey({ address: '127.0.0.1', port: 5683 })).toBe((0x7f000001 * 65536) + 5683);
    expect(peerKey({ address: '255.255.255.255', port: 65535 })).toBe(0xffffffff * 65536 + 65535);
    expect(peerKey({ address: '0.0.0.0', port: 0 })).toBe(0);
  });

  it('keeps IPv6 and anything that is not a dotted quad as a string', () => {
    expect(peerKey({ address: '::1', port: 5683 })).toBe('::1|5683');
    expect(peerKey({ address: '::ffff:10.0.0.1', port: 9 })).toBe('::ffff:10.0.0.1|9');
    expect(peerKey({ address: '256.0.0.1', port: 1 })).toBe('256.0.0.1|1');
    expect(peerKey({ address: '1.2.3', port: 1 })).toBe('1.2.3|1');
    expect(peerKey({ address: '1..2.3', port: 1 })).toBe('1..2.3|1');
    expect(peerKey({ address: '1.2.3.4.5', port: 1 })).toBe('1.2.3.4.5|1');
  });

  it('gives neighbouring peers different keys (the port never spills into the address)', () => {
    expect(peerKey({ address: '10.0.0.1', port: 0 })).toBe((peerKey({ address: '10.0.0.0', port: 65535 }) as number) + 1);
    expect(peerKey({ address: '10.0.0.1', port: 2 })).not.toBe(peerKey({ address: '10.0.0.1', port: 1 }));
  });
});

describe('DedupCache', () => {
  const remote = { address: '192.0.2.7', port: 40000 };

  it('finds what was stored for a (peer, message id), and nothing for another peer or id', () => {
    const cache = new DedupCache<string>(new ManualClock(), 1000);
    cache.set(cache.key(remote, 7), 'answer');
    expect(cache.get(cache.key(remote, 7))).toBe('answer');
    expect(cache.get(cache.key(remote, 8))).toBeUndefined();
    expect(cache.get(cache.key({ ...remote, port: 40001 }, 7))).toBeUndefined();
    expect(cache.get(cache.key({ address: '::1', port: 40000 }, 7))).toBeUndefined();
  });

  it('keeps an entry at least one lifetime and drops it before two', () => {
    const clock = new ManualClock();
    const cache = new DedupCache<string>(clock, 1000);
    cache.set(cache.key(remote, 1), 'a');
    clock.advance(999);
    expect(cache.get(cache.key(remote, 1))).toBe('a');
    clock.advance(1000);
    expect(cache.get(cache.key(remote, 1))).toBe('a');
    clock.advance(1001);
    expect(cache.get(cache.key(remote, 1))).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('keeps every exchange of a busy peer, and updates one in place', () => {
    const cache = new DedupCache<string>(new ManualClock(), 1000);
    for (let id = 0; id < 5; id++) cache.set(cache.key(remote, id), `answer ${id}`);
    cache.set(cache.key(remote, 3), 'answer 3, final');
    expect([0, 1, 2, 3, 4].map((id) => cache.get(cache.key(remote, id)))).toEqual([
      'answer 0',
      'answer 1',
      'answer 2',
      'answer 3, final',
      'answer 4',
    ]);
    expect(cache.size).toBe(5);
  });

  it('replaces an entry from the older generation instead of keeping two', () => {
    const clock = new ManualClock();
    const cache = new DedupCache<string>(clock, 1000);
    cache.set(cache.key(remote, 1), 'old');
    clock.advance(1000);
    cache.set(cache.key(remote, 1), 'new');
    expect(cache.get(cache.key(remote, 1))).toBe('new');
    expect(cache.size).toBe(1);
  });

  it('keeps the older generation\'s other exchanges of a peer when one is replaced', () => {
    const clock = new ManualClock();
    const cache = new DedupCache<string>(clock, 1000);
    cache.set(cache.key(remote, 1), 'a');
    cache.set(cache.key(remote, 2), 'b');
    clock.advance(1000);
    cache.set(cache.key(remote, 1), 'a2');
    expect(cache.get(cache.key(remote, 1))).toBe('a2');
    expect(cache.get(cache.key(remote, 2))).toBe('b');
    expect(cache.size).toBe(2);
  });

  it('holds all 65,536 message ids of one peer, each with its own value, across page boundaries', () => {
    const cache = new DedupCache<number>(new ManualClock(), 1000);
    for (let id = 0; id < 65536; id++) cache.set(cache.key(remote, id), id * 3);
    expect(cache.size).toBe(65536);
    for (const id of [0, 15, 16, 17, 255, 256, 4095, 4096, 65534, 65535]) expect(cache.get(cache.key(remote, id))).toBe(id * 3);
    cache.set(cache.key(remote, 16), -1);
    expect(cache.get(cache.key(remote, 16))).toBe(-1);
    expect(cache.size).toBe(65536);
  });

  it('counts a page entry once when a value moves from the older generation to the current one', () => {
    const clock = new ManualClock();
    const cache = new DedupCache<string>(clock, 1000);
    for (const id of [30, 31, 32]) cache.set(cache.key(remote, id), `old-${id}`);
    clock.advance(1000);
    cache.set(cache.key(remote, 31), 'new-31');
    expect(cache.size).toBe(3);
    expect(cache.get(cache.key(remote, 31))).toBe('new-31');
    expect(cache.get(cache.key(remote, 30))).toBe('old-30');
    expect(cache.get(cache.key(remote, 32))).toBe('old-32');
    clock.advance(1000);
    expect(cache.get(cache.key(remote, 30))).toBeUndefined();
    expect(cache.get(cache.key(remote, 31))).toBe('new-31');
    expect(cache.size).toBe(1);
  });
});
