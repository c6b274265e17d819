import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/util/clock.js';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';
import { WriteBehindRegistrationStore } from '../../../src/store/write-behind-registrations.js';
import type { RegistrationPersistence, RegistrationWrite } from '../../../src/store/types.js';
import { registration } from './helpers.js';

/** A real memory persistence that also records each batch it was given. */
function recorded(): { persistence: RegistrationPersistence; batches: RegistrationWrite[][]; store: MemoryStore } {
  const store = new MemoryStore();
  const batches: RegistrationWrite[][] = [];
  return {
    store,
    batches,
    persistence: {
      loadAll: () => store.registrations.loadAll(),
      apply: async (writes) => {
        batches.push([...writes]);
        await store.registrations.apply(writes);
      },
    },
  };
}

const flushed = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('WriteBehindRegistrationStore', () => {
  it('answers from memory at once and writes one batch per interval', async () => {
    const clock = new ManualClock();
    const { persistence, batches, store } = recorded();
    const wb = await WriteBehindRegistrationStore.open({ persistence, clock, flushIntervalMs: 100 });
    const a = registration({ id: 'a', endpoint: 'ea' });
    const b = registration({ id: 'b', endpoint: 'eb' });
    wb.add(a);
    wb.add(b);
    const a2 = registration({ id: 'a', endpoint: 'ea', lastUpdateAt: 7 });
    expect(wb.update(a2)).toBe(a);
    expect(wb.get('ea')).toBe(a2);
    expect(wb.getById('b')).toBe(b);
    expect(batches).toEqual([]);
    expect(wb.pendingWrites()).toBe(2);
    clock.advance(99);
    await flushed();
    expect(batches).toEqual([]);
    clock.advance(1);
    await flushed();
    expect(batches).toEqual([[{ op: 'put', registration: a2 }, { op: 'put', registration: b }]]);
    expect(wb.pendingWrites()).toBe(0);
    expect((await store.registrations.loadAll()).length).toBe(2);
  });

  it('an update of an unknown id writes nothing', async () => {
    const clock = new ManualClock();
    const { persistence, batches } = recorded();
    const wb = await WriteBehindRegistrationStore.open({ persistence, clock });
    expect(wb.update(registration({ id: 'ghost', endpoint: 'e' }))).toBeUndefined();
    expect(wb.pendingWrites()).toBe(0);
    await wb.close();
    expect(batches).toEqual([]);
  });

  it('a replacement writes the delete of the old id before the put of the new', async () => {
    const clock = new ManualClock();
    const { persistence, batches, store } = recorded();
    const wb = await WriteBehindRegistrationStore.open({ persistence, clock });
    wb.add(registration({ id: 'old', endpoint: 'e' }));
    await wb.flush();
    const newer = registration({ id: 'new', endpoint: 'e', address: { address: '127.0.0.1', port: 2 } });
    wb.add(newer);
    await wb.flush();
    expect(batches[1]).toEqual([{ op: 'delete', id: 'old' }, { op: 'put', registration: newer }]);
    expect(await store.registrations.loadAll()).toEqual([newer]);
  });

  it('a de-registration is durable at once, without waiting for the timer', async () => {
    const clock = new ManualClock();
    const { persistence, store } = recorded();
    const wb = await WriteBehindRegistrationStore.open({ persistence, clock });
    wb.add(registration({ id: 'a', endpoint: 'ea' }));
    wb.add(registration({ id: 'b', endpoint: 'eb' }));
    await wb.flush();
    wb.remove('a');
    await flushed();
    expect((await store.registrations.loadAll()).map((r) => r.id)).toEqual(['b']);
  });

  it('restores what was flushed, and expired registrations go at the first sweep', async () => {
    const clock = new ManualClock(1_000_000);
    const { persistence } = recorded();
    const wb = await WriteBehindRegistrationStore.open({ persistence, clock });
    wb.add(registration({ id: 'short', endpoint: 'es', expiresAt: 1_060_000 }));
    wb.add(registration({ id: 'long', endpoint: 'el', expiresAt: 9_000_000, address: { address: '10.1.1.1', port: 9 } }));
    await wb.close();
    const restored = await WriteBehindRegistrationStore.open({ persistence, clock });
    expect(restored.count()).toBe(2);
    expect(restored.getByAddress({ address: '10.1.1.1', port: 9 })?.endpoint).toBe('el');
    expect(restored.removeExpired(1_060_000).map((r) => r.id)).toEqual(['short']);
    await restored.flush();
    const again = await WriteBehindRegistrationStore.open({ persistence, clock });
    expect(again.list().map((r) => r.id)).toEqual(['long']);
  });

  it('what was not flushed before a crash is simply absent (the device re-registers)', async () => {
    const clock = new ManualClock();
    const { persistence } = recorded();
    const wb = await WriteBehindRegistrationStore.open({ persistence, clock });
    wb.add(registration({ id: 'kept', endpoint: 'e1' }));
    await wb.flush();
    wb.add(registration({ id: 'lost', endpoint: 'e2' }));
    // no flush, no close: the process "dies" here
    const restarted = await WriteBehindRegistrationStore.open({ persistence, clock });
    expect(restarted.list().map((r) => r.id)).toEqual(['kept']);
  });

  it('a failed flush is logged and the store keeps serving', async () => {
    const clock = new ManualClock();
    const errors: unknown[] = [];
    const logger = { error: (o: unknown) => errors.push(o) } as unknown as import('../../../src/util/logger.js').Logger;
    const persistence: RegistrationPersistence = {
      loadAll: async () => [],
      apply: async () => {
        throw new Error('disk full');
      },
    };
    const wb = await WriteBehindRegistrationStore.open({ persistence, clock, logger });
    wb.add(registration({ id: 'a', endpoint: 'ea' }));
    await wb.flush();
    expect(errors.length).toBe(1);
    expect(wb.get('ea')?.id).toBe('a');
  });
});
