import { describe, expect, it } from 'vitest';
import { AttributeStore, parseAttributeQuery } from '../../../simulators/device/observe/attributes.js';
import { shouldNotify } from '../../../simulators/device/observe/notify-rule.js';

const base = { now: 100_000, lastSentAt: 90_000 }; // 10 s since the last notification

describe('shouldNotify', () => {
  it('sends a change at once without attributes', () => {
    expect(shouldNotify({ ...base, attributes: {}, changed: true })).toBe(true);
    expect(shouldNotify({ ...base, attributes: {}, changed: false })).toBe(false);
  });

  it('holds a change until pmin has passed', () => {
    expect(shouldNotify({ ...base, attributes: { pmin: 11 }, changed: true })).toBe(false);
    expect(shouldNotify({ ...base, attributes: { pmin: 10 }, changed: true })).toBe(true);
  });

  it('sends without change once pmax has passed, and ignores pmax below pmin', () => {
    expect(shouldNotify({ ...base, attributes: { pmax: 10 }, changed: false })).toBe(true);
    expect(shouldNotify({ ...base, attributes: { pmax: 11 }, changed: false })).toBe(false);
    expect(shouldNotify({ ...base, attributes: { pmin: 20, pmax: 10 }, changed: false })).toBe(false);
  });

  it('applies gt, lt and st to numbers', () => {
    const numeric = (lastNumber: number, currentNumber: number, attributes: object) =>
      shouldNotify({ ...base, attributes, changed: lastNumber !== currentNumber, lastNumber, currentNumber });
    expect(numeric(40, 45, { gt: 50 })).toBe(false);
    expect(numeric(45, 55, { gt: 50 })).toBe(true);
    expect(numeric(55, 45, { gt: 50 })).toBe(true);
    expect(numeric(25, 15, { lt: 20 })).toBe(true);
    expect(numeric(25, 22, { lt: 20 })).toBe(false);
    expect(numeric(10, 12, { st: 3 })).toBe(false);
    expect(numeric(10, 13, { st: 3 })).toBe(true);
    expect(numeric(10, 7, { st: 3 })).toBe(true);
  });
});

describe('write-attributes', () => {
  it('parses values and removals, refuses bad ones', () => {
    expect(parseAttributeQuery(['pmin=5', 'pmax=60', 'st=0.5', 'gt'])).toEqual({
      set: { pmin: 5, pmax: 60, st: 0.5 },
      remove: ['gt'],
    });
    expect(() => parseAttributeQuery(['pmin=-1'])).toThrow(/non-negative/);
    expect(() => parseAttributeQuery(['pmin=1.5'])).toThrow(/non-negative integer/);
    expect(() => parseAttributeQuery(['colour=red'])).toThrow(/unknown attribute/);
    expect(() => parseAttributeQuery(['pmax='])).toThrow(/not a number/);
    expect(() => parseAttributeQuery(['lt=10', 'gt=12', 'st=1'])).toThrow(/lt \+ 2\*st/);
    expect(() => parseAttributeQuery([])).toThrow(/at least one/);
  });

  it('inherits object → instance → resource, the most specific winning', () => {
    const store = new AttributeStore();
    store.apply({ objectId: 3 }, { set: { pmin: 1, pmax: 100 }, remove: [] });
    store.apply({ objectId: 3, instanceId: 0 }, { set: { pmax: 50 }, remove: [] });
    store.apply({ objectId: 3, instanceId: 0, resourceId: 9 }, { set: { st: 5 }, remove: [] });
    expect(store.effective({ objectId: 3, instanceId: 0, resourceId: 9 })).toEqual({ pmin: 1, pmax: 50, st: 5 });
    expect(store.own({ objectId: 3, instanceId: 0 })).toEqual({ pmax: 50 });
    store.apply({ objectId: 3, instanceId: 0 }, { set: {}, remove: ['pmax'] });
    expect(store.effective({ objectId: 3, instanceId: 0, resourceId: 9 })).toEqual({ pmin: 1, pmax: 100, st: 5 });
    store.removeBelow({ objectId: 3, instanceId: 0 });
    expect(store.effective({ objectId: 3, instanceId: 0, resourceId: 9 })).toEqual({ pmin: 1, pmax: 100 });
  });
});
