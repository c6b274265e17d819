/** The stored row of a registration and the numbering of link sets. */
import { describe, expect, it } from 'vitest';
import { parseObjectLinks } from '../../../src/lwm2m/server/object-links.js';
import type { Registration } from '../../../src/lwm2m/server/registration.js';
import {
  decodeRegistration,
  encodeRegistration,
  fromRow,
  linksToText,
  NO_STORED_SETS,
  ROW,
  SHAPE,
  toKeyedRow,
  toRow,
  toShape,
  type StoredSets,
} from '../../../src/store/registration-codec.js';
import { ShapeInterner } from '../../../src/store/sqlite/shape-interner.js';
import { LinkInterner } from '../../../src/store/sqlite/link-interner.js';
import { StoreCorruptError } from '../../../src/store/types.js';
import { registration } from './helpers.js';

describe('registration row', () => {
  const r = registration({ id: 'r1', endpoint: 'dev', smsNumber: '+49', queueMode: true, lastUpdateAt: 1_700_000_060_000, expiresAt: 1_700_000_360_000 });
  const shape = toShape(r, 7);
  const stored: StoredSets = {
    shape: (n) => (n === 3 ? { ...shape3, objectLinks: r.objectLinks } : undefined),
    links: (n) => (n === 7 ? r.objectLinks : undefined),
  };
  const shape3 = { lifetimeSec: 300, lwm2mVersion: '1.1' as const, binding: 'U', queueMode: true, smsNumber: '+49', rootPath: '/' };

  it('is positional: what varies per device, a shape for what a device type shares, times as distances', () => {
    expect(shape).toEqual([300, '1.1', 'U', 1, '+49', '/', 7]);
    expect(shape[SHAPE.links]).toBe(7);
    const row = toRow(r, 3);
    expect(row).toEqual(['r1', '127.0.0.1', 40000, 3, 1_700_000_000_000, 60_000]);
    expect(row[ROW.shape]).toBe(3);
    expect(toKeyedRow(r, 3, 0)).toEqual(['dev', ...row]);
  });

  it('stores expiresAt only when it is not lastUpdateAt + lifetime', () => {
    const odd = { ...r, expiresAt: r.lastUpdateAt + 5 };
    expect(toRow(odd, 3)).toEqual(['r1', '127.0.0.1', 40000, 3, 1_700_000_000_000, 60_000, 5]);
    expect(toKeyedRow(odd, 3, 0)).toEqual(['dev', ...toRow(odd, 3)]);
    expect(fromRow('dev', toRow(odd, 3), stored)).toEqual(odd);
    expect(fromRow('dev', toRow(r, 3), stored).expiresAt).toBe(1_700_000_360_000);
  });

  it('stores registeredAt as an offset from a time base, and reads it back with that base', () => {
    const keyed = toKeyedRow(r, 3, 1_700_000_060_000);
    expect(keyed[1 + ROW.registeredAt]).toBe(-60_000);
    expect(keyed[1 + ROW.updatedAfter]).toBe(60_000);
    const back = fromRow('dev', keyed.slice(1), stored, 1_700_000_060_000);
    expect(back).toEqual(r);
    expect(fromRow('dev', keyed.slice(1), stored).registeredAt).toBe(-60_000);
  });

  it('reads back what it wrote: shape inline or numbered, links inline or numbered', () => {
    expect(JSON.parse(encodeRegistration(r))).toEqual(['r1', '127.0.0.1', 40000, [300, '1.1', 'U', 1, '+49', '/', linksToText(r.objectLinks)], 1_700_000_000_000, 60_000]);
    expect(decodeRegistration('dev', encodeRegistration(r))).toEqual(r);
    const numbered = fromRow('dev', toRow(r, 3), stored);
    expect(numbered).toEqual(r);
    expect(numbered.objectLinks).toBe(r.objectLinks);
    const inlineShapeNumberedLinks = fromRow('dev', toRow(r, shape), stored);
    expect(inlineShapeNumberedLinks).toEqual(r);
    expect(inlineShapeNumberedLinks.objectLinks).toBe(r.objectLinks);
  });

  it('reads rows of the older 13-field form', () => {
    const legacy = ['r1', 300, '1.1', 'U', 1, '+49', '127.0.0.1', 40000, '/', 7, 1_700_000_000_000, 60_000, 300_000];
    expect(fromRow('dev', legacy, stored)).toEqual(r);
    expect(fromRow('dev', Object.assign([...legacy], { 9: linksToText(r.objectLinks) }), NO_STORED_SETS)).toEqual(r);
    expect(() => fromRow('dev', Object.assign([...legacy], { 9: 8 }), stored)).toThrow(/unknown link set 8/);
    expect(() => fromRow('dev', Object.assign([...legacy], { 2: '2.0' }), stored)).toThrow(StoreCorruptError);
  });

  it('refuses rows it did not write', () => {
    const good = toRow(r, 3);
    expect(() => fromRow('dev', good.slice(0, 5), stored)).toThrow(StoreCorruptError);
    expect(() => fromRow('dev', [...good, 5, 6], stored)).toThrow(StoreCorruptError);
    expect(() => fromRow('dev', { ...good }, stored)).toThrow(StoreCorruptError);
    expect(() => fromRow('', good, stored)).toThrow(StoreCorruptError);
    expect(() => fromRow('dev', Object.assign([...good], { [ROW.port]: '1' }), stored)).toThrow(StoreCorruptError);
    expect(() => fromRow('dev', [...good, 'x'], stored)).toThrow(StoreCorruptError);
    expect(() => fromRow('dev', good, NO_STORED_SETS)).toThrow(/unknown shape 3/);
    const withShape = (s: unknown[]) => Object.assign([...good], { [ROW.shape]: s });
    expect(() => fromRow('dev', withShape(Object.assign([...shape], { [SHAPE.lwm2mVersion]: '2.0' })), stored)).toThrow(/unreadable shape/);
    expect(() => fromRow('dev', withShape(Object.assign([...shape], { [SHAPE.queueMode]: true })), stored)).toThrow(/unreadable shape/);
    expect(() => fromRow('dev', withShape(Object.assign([...shape], { [SHAPE.links]: 8 })), stored)).toThrow(/unreadable shape/);
    expect(() => fromRow('dev', withShape(Object.assign([...shape], { [SHAPE.links]: '<bad' })), stored)).toThrow(/unreadable shape/);
    expect(() => decodeRegistration('dev', '[1,')).toThrow(StoreCorruptError);
  });
});

describe('ShapeInterner', () => {
  const typeA = parseObjectLinks('</1/0>,</3/0>').objectLinks;
  const typeB = parseObjectLinks('</1/0>,</3/0>,</5/0>').objectLinks;
  const dev = (endpoint: string, extra: Partial<Registration> = {}) => registration({ id: endpoint, endpoint, objectLinks: typeA, ...extra });

  it('numbers each shape once, after the stored ones, and defines it and its link set once per batch', () => {
    const shapes = new ShapeInterner(new LinkInterner([[2, '</9/0>']]), [[4, '[60,"1.1","U",0,null,"/",2]']]);
    const defs1 = { links: [] as Array<[number, string]>, shapes: [] as Array<[number, string]> };
    const refs = [dev('a'), dev('b', { lifetimeSec: 60 }), dev('c', { objectLinks: typeB }), dev('d'), dev('e', { lifetimeSec: 60 })].map((r) => shapes.ref(r, 1, defs1));
    expect(refs).toEqual([5, 6, 7, 5, 6]);
    expect(defs1.shapes).toEqual([[5, '[300,"1.1","U",0,null,"/",3]'], [6, '[60,"1.1","U",0,null,"/",3]'], [7, '[300,"1.1","U",0,null,"/",4]']]);
    expect(defs1.links).toEqual([[3, '</1/0>,</3/0>'], [4, '</1/0>,</3/0>,</5/0>']]);
    const defs2 = { links: [] as Array<[number, string]>, shapes: [] as Array<[number, string]> };
    expect(shapes.ref(dev('f', { lifetimeSec: 60 }), 2, defs2)).toBe(6);
    expect(defs2).toEqual({ shapes: [[6, '[60,"1.1","U",0,null,"/",3]']], links: [[3, '</1/0>,</3/0>']] });
    // A stored shape of the same text keeps its number.
    const stored = new ShapeInterner(new LinkInterner([[3, '</1/0>,</3/0>']]), [[9, '[300,"1.1","U",0,null,"/",3]']]);
    expect(stored.ref(dev('g'), 1, { links: [], shapes: [] })).toBe(9);
  });

  it('past its limit, rows keep their shape inline', () => {
    const shapes = new ShapeInterner(new LinkInterner([]), [], 1);
    const defs = { links: [] as Array<[number, string]>, shapes: [] as Array<[number, string]> };
    expect(shapes.ref(dev('a'), 1, defs)).toBe(1);
    expect(shapes.ref(dev('b', { smsNumber: '+1' }), 1, defs)).toEqual([300, '1.1', 'U', 0, '+1', '/', 1]);
    expect(defs).toEqual({ shapes: [[1, '[300,"1.1","U",0,null,"/",1]']], links: [[1, '</1/0>,</3/0>']] });
    expect(shapes.size()).toBe(1);
  });

  it('forgets loaded shapes nothing uses, never one a batch of this process named', () => {
    const shapes = new ShapeInterner(new LinkInterner([[1, '</1/0>,</3/0>']]), [[1, '[300,"1.1","U",0,null,"/",1]'], [2, '[1,"1.1","U",0,null,"/",1]'], [3, '[2,"1.1","U",0,null,"/",1]']]);
    expect(shapes.ref(dev('a'), 1, { links: [], shapes: [] })).toBe(1);
    expect(shapes.forgetUnused(new Set([3]))).toEqual([2]);
    expect(shapes.size()).toBe(2);
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
