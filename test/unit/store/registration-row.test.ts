/** The stored row of a registration and the numbering of link sets. */
import { describe, expect, it } from 'vitest';
import { parseObjectLinks } from '../../../src/lwm2m/server/object-links.js';
import { decodeRegistration, encodeRegistration, fromRow, ROW, toKeyedRow, toRow } from '../../../src/store/registration-codec.js';
import { LinkInterner } from '../../../src/store/sqlite/link-interner.js';
import { StoreCorruptError } from '../../../src/store/types.js';
import { registration } from './helpers.js';

describe('registration row', () => {
  const r = registration({ id: 'r1', endpoint: 'dev', smsNumber: '+49', queueMode: true, lastUpdateAt: 1_700_000_060_000, expiresAt: 1_700_000_360_000 });

  it('is positional, with times after registeredAt as distances', () => {
    const row = toRow(r, 7);
    expect(row).toEqual(['r1', 300, '1.1', 'U', 1, '+49', '127.0.0.1', 40000, '/', 7, 1_700_000_000_000, 60_000, 300_000]);
    expect(row[ROW.links]).toBe(7);
    expect(toKeyedRow(r, 7, 0)).toEqual(['dev', ...row]);
  });

  it('stores registeredAt as an offset from a time base, and reads it back with that base', () => {
    const keyed = toKeyedRow(r, 7, 1_700_000_060_000);
    expect(keyed[1 + ROW.registeredAt]).toBe(-60_000);
    expect(keyed.slice(1 + ROW.registeredAt + 1)).toEqual([60_000, 300_000]);
    const back = fromRow('dev', keyed.slice(1), () => r.objectLinks, 1_700_000_060_000);
    expect(back).toEqual(r);
    expect(fromRow('dev', keyed.slice(1), () => r.objectLinks).registeredAt).toBe(-60_000);
  });

  it('reads back what it wrote, links inline or numbered', () => {
    expect(decodeRegistration('dev', encodeRegistration(r))).toEqual(r);
    const numbered = fromRow('dev', toRow(r, 3), (n) => (n === 3 ? r.objectLinks : undefined));
    expect(numbered).toEqual(r);
    expect(numbered.objectLinks).toBe(r.objectLinks);
  });

  it('refuses rows it did not write', () => {
    const good = toRow(r, 3);
    const links = () => r.objectLinks;
    expect(() => fromRow('dev', good.slice(0, 12), links)).toThrow(StoreCorruptError);
    expect(() => fromRow('dev', { ...good }, links)).toThrow(StoreCorruptError);
    expect(() => fromRow('', good, links)).toThrow(StoreCorruptError);
    expect(() => fromRow('dev', Object.assign([...good], { [ROW.lwm2mVersion]: '2.0' }), links)).toThrow(StoreCorruptError);
    expect(() => fromRow('dev', Object.assign([...good], { [ROW.queueMode]: true }), links)).toThrow(StoreCorruptError);
    expect(() => fromRow('dev', good, () => undefined)).toThrow(/unknown link set 3/);
    expect(() => fromRow('dev', Object.assign([...good], { [ROW.links]: '<bad' }), links)).toThrow(/unreadable object links/);
    expect(() => decodeRegistration('dev', '[1,')).toThrow(StoreCorruptError);
  });
});

describe('LinkInterner', () => {
  const a = parseObjectLinks('</1/0>,</3/0>').objectLinks;
  const b = parseObjectLinks('</1/0>,</3/0>,</5/0>').objectLinks;

  it('numbers each set once, after the stored ones, and defines it once per batch', () => {
    const interner = new LinkInterner([[4, '</9/0>']]);
    const defs1: Array<[number, string]> = [];
    expect([interner.ref(a, 1, defs1), interner.ref(b, 1, defs1), interner.ref(a, 1, defs1)]).toEqual([5, 6, 5]);
    expect(defs1).toEqual([[5, '</1/0>,</3/0>'], [6, '</1/0>,</3/0>,</5/0>']]);
    const defs2: Array<[number, string]> = [];
    expect(interner.ref(b, 2, defs2)).toBe(6);
    expect(defs2).toEqual([[6, '</1/0>,</3/0>,</5/0>']]);
    // Another array with the same text is the same set.
    const sameAsA = parseObjectLinks(' </1/0>,</3/0>').objectLinks;
    expect(sameAsA).not.toBe(a);
    expect(interner.ref(sameAsA, 2, defs2)).toBe(5);
  });

  it('past its limit, rows keep their links as text', () => {
    const interner = new LinkInterner([], 1);
    const defs: Array<[number, string]> = [];
    expect(interner.ref(a, 1, defs)).toBe(1);
    expect(interner.ref(b, 1, defs)).toBe('</1/0>,</3/0>,</5/0>');
    expect(defs).toEqual([[1, '</1/0>,</3/0>']]);
    expect(interner.size()).toBe(1);
  });

  it('forgets loaded sets nothing uses, never one a batch of this process named', () => {
    const interner = new LinkInterner([[1, '</1/0>,</3/0>'], [2, '</7/0>'], [3, '</8/0>']]);
    expect(interner.ref(a, 1, [])).toBe(1);
    expect(interner.forgetUnused(new Set([3]))).toEqual([2]);
    expect(interner.size()).toBe(2);
  });
});
