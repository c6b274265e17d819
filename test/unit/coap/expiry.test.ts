import { describe, it, expect } from 'vitest';
import { ManualClock } from '../../../src/util/clock.js';
import { GenerationalMap } from '../../../src/coap/generational-map.js';
import { TimerQueue } from '../../../src/coap/timer-queue.js';
import { CoapCode } from '../../../src/coap/types.js';
import { RawPeer, endpoint, msg } from './helpers.js';

describe('bounded state', () => {
  it('GenerationalMap keeps an entry at least one generation and drops it within two', () => {
    const clock = new ManualClock();
    const map = new GenerationalMap<string, number>(clock, 1000);
    map.set('a', 1);
    clock.advance(999);
    expect(map.get('a')).toBe(1);
    clock.advance(1); // rotation: 'a' moves to the previous generation
    expect(map.get('a')).toBe(1);
    map.set('b', 2);
    clock.advance(1000); // second rotation: 'a' is gone, 'b' survives one more generation
    expect(map.get('a')).toBeUndefined();
    expect(map.get('b')).toBe(2);
    clock.advance(5000); // long idle: everything is stale
    expect(map.size).toBe(0);
  });

  it('TimerQueue fires deadlines in order on one clock timer, and cancelled ones never', () => {
    const clock = new ManualClock();
    const queue = new TimerQueue(clock);
    const fired: string[] = [];
    queue.schedule(300, () => fired.push('c'));
    const b = queue.schedule(200, () => fired.push('b'));
    queue.schedule(100, () => fired.push('a'));
    queue.cancel(b);
    expect(clock.pendingTimers()).toBe(1);
    clock.advance(150);
    expect(fired).toEqual(['a']);
    clock.advance(200);
    expect(fired).toEqual(['a', 'c']);
    expect(queue.size).toBe(0);
  });

  it('after the exchange lifetime a repeated message ID is a new request', async () => {
    const clock = new ManualClock();
    const s = await endpoint({ clock, exchangeLifetimeMs: 10_000 });
    const peer = await RawPeer.open();
    try {
      let calls = 0;
      s.setRequestHandler(() => ({ code: CoapCode.Content, payload: Buffer.from(String(++calls)) }));
      const request = msg({ type: 'CON', code: CoapCode.GET, messageId: 77, token: Buffer.from('01', 'hex') });
      peer.send(request, s.address());
      expect((await peer.nextMessage()).payload.toString()).toBe('1');
      clock.advance(9_999);
      peer.send(request, s.address());
      expect((await peer.nextMessage()).payload.toString()).toBe('1');
      clock.advance(20_001);
      peer.send(request, s.address());
      expect((await peer.nextMessage()).payload.toString()).toBe('2');
    } finally {
      await peer.close();
      await s.close();
    }
  });
});
