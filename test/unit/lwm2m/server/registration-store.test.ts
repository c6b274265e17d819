import { describe, expect, it } from 'vitest';
import { MemoryRegistrationStore } from '../../../../src/lwm2m/server/registration-store.js';
import type { Registration } from '../../../../src/lwm2m/server/registration.js';

function registration(endpoint: string, id: string, port = 5000): Registration {
  return {
    id,
    endpoint,
    lifetimeSec: 60,
    lwm2mVersion: '1.1',
    binding: 'U',
    queueMode: false,
    smsNumber: undefined,
    address: { address: '127.0.0.1', port },
    rootPath: '/',
    objectLinks: [],
    registeredAt: 0,
    lastUpdateAt: 0,
    expiresAt: 60_000,
  };
}

describe('MemoryRegistrationStore ids', () => {
  it('makes ids "<slot>-<8 random chars>" with slots counted from 0', () => {
    const store = new MemoryRegistrationStore();
    const first = store.newId();
    expect(first).toMatch(/^0-[A-Za-z0-9_-]{8}$/);
    store.add(registration('a', first));
    const second = store.newId();
    expect(second).toMatch(/^1-[A-Za-z0-9_-]{8}$/);
    store.add(registration('b', second));
    expect(store.getById(first)?.endpoint).toBe('a');
    expect(store.getById(second)?.endpoint).toBe('b');
  });

  it('never answers for an id whose slot holds another registration', () => {
    const store = new MemoryRegistrationStore();
    const id = store.newId();
    store.add(registration('a', id));
    const forged = `0-${'A'.repeat(8)}`;
    expect(forged).not.toBe(id);
    expect(store.getById(forged)).toBeUndefined();
    expect(store.remove(forged)).toBeUndefined();
    expect(store.count()).toBe(1);
  });

  it('reuses a freed slot, and the old id no longer finds anything', () => {
    const store = new MemoryRegistrationStore();
    const ids = ['a', 'b', 'c'].map((endpoint) => {
      const id = store.newId();
      store.add(registration(endpoint, id));
      return id;
    });
    expect(store.remove(ids[1])?.endpoint).toBe('b');
    const reused = store.newId();
    expect(reused.startsWith('1-')).toBe(true);
    store.add(registration('d', reused));
    expect(store.getById(ids[1])).toBeUndefined();
    expect(store.getById(reused)?.endpoint).toBe('d');
    expect(store.newId().startsWith('3-')).toBe(true);
  });

  it('gives the slot of a replaced registration back when the same endpoint registers again', () => {
    const store = new MemoryRegistrationStore();
    const old = store.newId();
    store.add(registration('a', old));
    const renewed = store.newId();
    // The old registration still holds slot 0 when the new id is made.
    expect(renewed.startsWith('1-')).toBe(true);
    expect(store.add(registration('a', renewed))?.id).toBe(old);
    expect(store.getById(old)).toBeUndefined();
    expect(store.getById(renewed)?.endpoint).toBe('a');
    expect(store.newId().startsWith('0-')).toBe(true);
  });

  it('keeps ids of other shapes (restored or chosen by a caller) findable', () => {
    const store = new MemoryRegistrationStore();
    store.add(registration('legacy', 'Xk3_9aQ2bLmZ'));
    store.add(registration('custom', 'r1'));
    expect(store.getById('Xk3_9aQ2bLmZ')?.endpoint).toBe('legacy');
    expect(store.getById('r1')?.endpoint).toBe('custom');
    expect(store.remove('r1')?.endpoint).toBe('custom');
    expect(store.getById('r1')).toBeUndefined();
    expect(store.count()).toBe(1);
  });

  it('places restored slot ids where they were, and hands out the gaps first', () => {
    const store = new MemoryRegistrationStore();
    store.add(registration('restored-5', '5-abcdefgh'));
    store.add(registration('restored-2', '2-abcdefgh'));
    expect(store.getById('5-abcdefgh')?.endpoint).toBe('restored-5');
    expect(store.getById('2-abcdefgh')?.endpoint).toBe('restored-2');
    const fresh = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const id = store.newId();
      store.add(registration(`new-${i}`, id));
      fresh.add(id.split('-')[0]);
    }
    expect([...fresh].sort()).toEqual(['0', '1', '3', '4', '6']);
    expect(store.count()).toBe(7);
  });

  it('an update keeps the slot and replaces the stored object', () => {
    const store = new MemoryRegistrationStore();
    const id = store.newId();
    const first = registration('a', id, 5000);
    store.add(first);
    const moved = { ...first, address: { address: '127.0.0.1', port: 6000 }, lastUpdateAt: 10 };
    expect(store.update(moved)).toBe(first);
    expect(store.getById(id)).toBe(moved);
    expect(store.getByAddress({ address: '127.0.0.1', port: 6000 })).toBe(moved);
    expect(store.getByAddress({ address: '127.0.0.1', port: 5000 })).toBeUndefined();
  });
});
