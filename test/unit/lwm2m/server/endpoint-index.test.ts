import { describe, expect, it } from 'vitest';
import { EndpointIndex } from '../../../../src/lwm2m/server/endpoint-index.js';

interface Item {
  endpoint: string;
  n: number;
}

/** A small deterministic generator, so a failure repeats. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('EndpointIndex', () => {
  it('finds what was set, replaces in place, and deletes', () => {
    const index = new EndpointIndex<Item>();
    index.set({ endpoint: 'a', n: 1 });
    index.set({ endpoint: 'b', n: 2 });
    index.set({ endpoint: 'a', n: 3 });
    expect(index.size).toBe(2);
    expect(index.get('a')).toEqual({ endpoint: 'a', n: 3 });
    expect([...index.values()].map((item) => item.endpoint)).toEqual(['a', 'b']);
    expect(index.delete('a')).toEqual({ endpoint: 'a', n: 3 });
    expect(index.delete('a')).toBeUndefined();
    expect(index.get('a')).toBeUndefined();
    expect(index.get('')).toBeUndefined();
    expect(index.size).toBe(1);
  });

  it('behaves as a Map through 60,000 random sets and deletes (growth, probe runs, compaction)', () => {
    const random = lcg(42);
    const index = new EndpointIndex<Item>();
    const model = new Map<string, Item>();
    for (let step = 0; step < 60_000; step++) {
      // Few distinct names at first, many later: both dense probe runs and several growths.
      const name = `urn:dev:${Math.floor(random() * (step < 20_000 ? 3000 : 40_000))}`;
      if (random() < 0.35) {
        expect(index.delete(name)).toBe(model.get(name));
        model.delete(name);
      } else {
        const item = { endpoint: name, n: step };
        // The store deletes before it sets, so a re-set goes to the end as with a Map.
        index.delete(name);
        model.delete(name);
        index.set(item);
        model.set(name, item);
      }
      if (step % 5000 === 0) {
        for (const [key, value] of model) expect(index.get(key)).toBe(value);
      }
    }
    expect(index.size).toBe(model.size);
    expect([...index.values()]).toEqual([...model.values()]);
    for (let i = 0; i < 40_000; i++) expect(index.get(`urn:dev:${i}`)).toBe(model.get(`urn:dev:${i}`));
  });

  it('empties completely and fills again', () => {
    const index = new EndpointIndex<Item>();
    for (let i = 0; i < 5000; i++) index.set({ endpoint: `e${i}`, n: i });
    for (let i = 0; i < 5000; i++) expect(index.delete(`e${i}`)?.n).toBe(i);
    expect(index.size).toBe(0);
    expect([...index.values()]).toEqual([]);
    index.set({ endpoint: 'e7', n: 7 });
    expect(index.get('e7')?.n).toBe(7);
    expect([...index.values()].length).toBe(1);
  });

  it('keeps names that differ only in non-ASCII characters apart', () => {
    const index = new EndpointIndex<Item>();
    index.set({ endpoint: 'gerät-1', n: 1 });
    index.set({ endpoint: 'gerat-1', n: 2 });
    index.set({ endpoint: '设备-1', n: 3 });
    expect(index.get('gerät-1')?.n).toBe(1);
    expect(index.get('gerat-1')?.n).toBe(2);
    expect(index.get('设备-1')?.n).toBe(3);
  });
});
