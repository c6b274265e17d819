import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/util/clock.js';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';
import { WriteBehindRegistrationStore } from '../../../src/store/write-behind-registrations.js';
import { isRegistrationDelete, isRegistrationPut, REWRITE_BEGIN, REWRITE_END, type RegistrationPersistence, type RegistrationWrite } from '../../../src/store/types.js';
import { registration } from './helpers.js';

/** A real memory persistence that also records each batch it was given (and, with `now`, each deleteNow). */
function recorded(now?: string[]): { persistence: RegistrationPersistence; batches: RegistrationWrite[][]; store: MemoryStore } {
  const store = new MemoryStore();
  const batches: RegistrationWrite[][] = [];
  const persistence: RegistrationPersistence = {
    loadAll: () => store.registrations.loadAll(),
    apply: async (writes) => {
      batches.push([...writes]);
      await store.registrations.apply(writes);
    },
  };
  if (now) {
    persistence.deleteNow = (endpoint) => {
      now.push(endpoint);
      void store.registrations.apply([{ op: 'delete', endpoint }]);
    };
  }
  return { store, batches, persistence };
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
    expect(wb.pendingWrites()).toBe(3);
    clock.advance(99);
    await flushed();
    expect(batches).toEqual([]);
    clock.advance(1);
    await flushed();
    expect(batches).toEqual([[a, b, a2]]);
    expect(wb.pendingWrites()).toBe(0);
    expect((await store.registrations.loadAll()).sort((x, y) => x.id.localeCompare(y.id))).toEqual([a2, b]);
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

  it('a replacement is one put of the endpoint, and the stored registration is the new one', async () => {
    const clock = new ManualClock();
    const { persistence, batches, store } = recorded();
    const wb = await WriteBehindRegistrationStore.open({ persistence, clock });
    wb.add(registration({ id: 'old', endpoint: 'e' }));
    await wb.flush();
    const newer = registration({ id: 'new', endpoint: 'e', address: { address: '127.0.0.1', port: 2 } });
    wb.add(newer);
    await wb.flush();
    expect(batches[1]).toEqual([newer]);
    expect(await store.registrations.loadAll()).toEqual([newer]);
  });

  it('every change of an interval goes in order, so the store ends as memory was at the flush', async () => {
    const clock = new ManualClock();
    const deletedNow: string[] = [];
    const { persistence, batches, store } = recorded(deletedNow);
    const wb = await WriteBehindRegistrationStore.open({ persistence, clock });
    wb.add(registration({ id: 'a', endpoint: 'ea' }));
    wb.add(registration({ id: 'b', endpoint: 'eb' }));
    await wb.flush();
    // ea: updated, replaced, de-registered; eb: de-registered, then back; ec: new.
    const a1 = registration({ id: 'a', endpoint: 'ea', lastUpdateAt: 9 });
    const a2 = registration({ id: 'a2', endpoint: 'ea' });
    wb.update(a1);
    wb.add(a2);
    wb.remove('a2');
    wb.remove('b');
    const back = registration({ id: 'b2', endpoint: 'eb' });
    wb.add(back);
    const c = registration({ id: 'c', endpoint: 'ec' });
    wb.add(c);
    await wb.flush();
    expect(deletedNow).toEqual(['ea', 'eb']);
    expect(batches.slice(1)).toEqual([
      [
        a1,
        a2,
        { op: 'delete', endpoint: 'ea' },
        { op: 'delete', endpoint: 'eb' },
        back,
        c,
      ],
    ]);
    expect((await store.registrations.loadAll()).map((r) => r.id).sort()).toEqual(['b2', 'c']);
  });

  it('hands a batch over when the flush starts, so a later de-registration prevails over it', async () => {
    const clock = new ManualClock();
    const handed: string[] = [];
    const store = new MemoryStore();
    const persistence: RegistrationPersistence = {
      loadAll: () => store.registrations.loadAll(),
      apply: (writes) => {
        handed.push(...writes.map((w) => (isRegistrationPut(w) ? `put ${w.id}` : `${w.op} ${isRegistrationDelete(w) ? w.endpoint : ''}`)));
        return store.registrations.apply(writes);
      },
      deleteNow: (endpoint) => {
        handed.push(`deleteNow ${endpoint}`);
        void store.registrations.apply([{ op: 'delete', endpoint }]);
      },
    };
    const wb = await WriteBehindRegistrationStore.open({ persistence, clock });
    wb.add(registration({ id: 'a', endpoint: 'ea' }));
    const flushed = wb.flush();
    wb.remove('a');
    expect(handed).toEqual(['put a', 'deleteNow ea']);
    await flushed;
    await wb.close();
    expect(handed).toEqual(['put a', 'deleteNow ea', 'delete ea']);
    expect(await store.registrations.loadAll()).toEqual([]);
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

  it('a persistence that throws at once is logged the same way, and later flushes still go out', async () => {
    const clock = new ManualClock();
    const errors: unknown[] = [];
    const logger = { error: (o: unknown) => errors.push(o) } as unknown as import('../../../src/util/logger.js').Logger;
    const store = new MemoryStore();
    let calls = 0;
    const persistence: RegistrationPersistence = {
      loadAll: () => store.registrations.loadAll(),
      apply: (writes) => {
        if (++calls === 1) throw new Error('encoder broke');
        return store.registrations.apply(writes);
      },
    };
    const wb = await WriteBehindRegistrationStore.open({ persistence, clock, logger });
    wb.add(registration({ id: 'a', endpoint: 'ea' }));
    await wb.flush();
    expect(errors.length).toBe(1);
    const b = registration({ id: 'b', endpoint: 'eb' });
    wb.add(b);
    await wb.flush();
    expect(await store.registrations.loadAll()).toEqual([b]);
  });

  it('rewrites a long log: a begin, every live registration again a chunk per flush (even when devices are quiet), an end', async () => {
    const clock = new ManualClock();
    const { persistence, batches, store } = recorded();
    const live = ['e1', 'e2', 'e3', 'e4', 'e5'].map((endpoint, i) => registration({ id: `r${i + 1}`, endpoint }));
    await store.registrations.apply(live);
    let asked: number[] = [];
    let wants = true;
    persistence.wantsRewrite = (count) => {
      asked.push(count);
      return wants;
    };
    const wb = await WriteBehindRegistrationStore.open({ persistence, clock, flushIntervalMs: 100, rewriteChunk: 2 });
    // Asked at open (to start without waiting for a device), then at the flush that begins.
    expect(asked).toEqual([5]);
    const [r1, r2, r3, r4, r5] = live.map((r) => wb.get(r.endpoint)!);
    clock.advance(100);
    await flushed();
    expect(asked).toEqual([5, 5]);
    expect(batches).toEqual([[REWRITE_BEGIN, r1, r2]]);
    wants = false; // not asked again before the end
    // Changes during the rewrite are written as usual; a removed device is not put again.
    const r3b = registration({ id: r3.id, endpoint: 'e3', lastUpdateAt: 1_700_000_100_000, expiresAt: 1_700_000_400_000 });
    wb.update(r3b);
    wb.remove(r4.id);
    clock.advance(100);
    await flushed();
    expect(batches[1]).toEqual([r3b, { op: 'delete', endpoint: 'e4' }, r3b]);
    clock.advance(100);
    await flushed();
    expect(batches[2]).toEqual([r5, REWRITE_END]);
    asked = [];
    clock.advance(1000);
    await flushed();
    expect(batches.length).toBe(3);
    wb.add(registration({ id: 'r6', endpoint: 'e6' }));
    clock.advance(100);
    await flushed();
    expect(asked).toEqual([5]);
    expect((await store.registrations.loadAll()).map((r) => r.endpoint).sort()).toEqual(['e1', 'e2', 'e3', 'e5', 'e6']);
    await wb.close();
  });

  it('close stops a rewrite in the middle, and no timer is left behind', async () => {
    const clock = new ManualClock();
    const { persistence, batches, store } = recorded();
    await store.registrations.apply(['e1', 'e2', 'e3'].map((endpoint, i) => registration({ id: `r${i + 1}`, endpoint })));
    persistence.wantsRewrite = () => true;
    const wb = await WriteBehindRegistrationStore.open({ persistence, clock, flushIntervalMs: 100, rewriteChunk: 1 });
    clock.advance(100);
    await flushed();
    await wb.close();
    expect(batches.map((b) => b.map((w) => ('op' in w ? w.op : w.endpoint)))).toEqual([['rewrite-begin', 'e1'], ['e2']]);
    clock.advance(10_000);
    await flushed();
    expect(batches.length).toBe(2);
  });
});
