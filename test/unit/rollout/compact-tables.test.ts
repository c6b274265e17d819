/** The per-member tables that keep a million devices out of the garbage collector's way. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EndpointTable } from '../../../src/rollout/endpoint-table.js';
import { IndexSet } from '../../../src/rollout/index-set.js';

describe('EndpointTable', () => {
  it('numbers names in the order they come and finds them again, as a Map would', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 40, unit: 'binary' }), { maxLength: 300 }), fc.array(fc.string({ maxLength: 40 }), { maxLength: 50 }), (names, probes) => {
        const table = new EndpointTable(4);
        const map = new Map<string, number>();
        for (const name of names) {
          expect(table.add(name)).toBe(map.size);
          map.set(name, map.size);
        }
        expect(table.size).toBe(names.length);
        names.forEach((name, i) => {
          expect(table.name(i)).toBe(name);
          expect(table.indexOf(name)).toBe(i);
        });
        for (const probe of probes) expect(table.indexOf(probe)).toBe(map.get(probe));
        expect(table.names()).toEqual(names);
      }),
    );
  });

  it('refuses a name twice and a number it does not have', () => {
    const table = new EndpointTable();
    table.add('dev-1');
    expect(() => table.add('dev-1')).toThrow('"dev-1" is in the table already');
    expect(() => table.name(1)).toThrow(RangeError);
    expect(table.has('dev-2')).toBe(false);
  });

  it('keeps 200,000 names and finds the last one', () => {
    const table = new EndpointTable(16);
    for (let i = 0; i < 200_000; i++) table.add(`sensor-${i}`);
    expect(table.indexOf('sensor-199999')).toBe(199_999);
    expect(table.name(123_456)).toBe('sensor-123456');
    expect(table.indexOf('sensor-200000')).toBeUndefined();
  });
});

describe('IndexSet', () => {
  it('holds what a Set<number> holds through any adds and deletes', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(500)), { maxLength: 400 }), (ops) => {
        const set = new IndexSet(4, 2);
        const model = new Set<number>();
        for (const [add, i] of ops) {
          if (add) {
            set.add(i);
            model.add(i);
          } else {
            expect(set.delete(i)).toBe(model.delete(i));
          }
          expect(set.size).toBe(model.size);
        }
        expect([...set].sort((a, b) => a - b)).toEqual([...model].sort((a, b) => a - b));
        for (let i = 0; i <= 500; i++) expect(set.has(i)).toBe(model.has(i));
      }),
    );
  });

  it('visits every member once when the visited one is deleted on the way', () => {
    const set = new IndexSet();
    for (let i = 0; i < 50; i++) set.add(i * 3);
    const visited: number[] = [];
    for (let k = set.size - 1; k >= 0; k--) {
      if (k >= set.size) continue;
      const i = set.at(k);
      visited.push(i);
      if (i % 2 === 0) set.delete(i);
    }
    expect(visited.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i * 3));
    expect([...set].sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i * 6 + 3));
  });
});
