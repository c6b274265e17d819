/**
 * The registration store the server runs on when it has a persistent store: lookups and
 * changes hit an in-memory index synchronously; the changes reach the persistent store
 * in batches, one transaction every `flushIntervalMs` (and at close).
 *
 * A batch holds every change since the last one, in order, each keyed by endpoint: a put
 * of its registration or a delete (it has none). Batches are applied in order, so after
 * each one the store holds exactly what memory held at that flush. (Changes are appended,
 * not merged per endpoint: an endpoint rarely changes twice within an interval, and a
 * map lookup per change costs more on the hot path than the rare extra row.)
 *
 * What a kill -9 between two flushes loses — at most the last interval's changes — and
 * why each loss only costs a re-registration, never a wrong state:
 * - a lost register: the device's next update gets 4.04 and it registers again;
 * - a lost update: the stored lastUpdate is older, so the device may expire early after
 *   the restart, or its update (to an id the server still knows) simply succeeds again;
 *   if it moved meanwhile, its next update carries the new address;
 * - a replacement (same endpoint, new id) is one put of the endpoint: the stored row is
 *   replaced, so an older registration is never resurrected;
 * - a de-registration is NOT left to the timer: it is written before the 2.02 goes out
 *   (deleteNow, which also stops older puts still in flight), or flushed at once when the
 *   persistence cannot do that, so a device that said goodbye never comes back after a
 *   restart with a stale address;
 * - expiries are not urgent: a registration expired before the kill expires again at start.
 */
import type { RemoteAddress } from '../coap/types.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import { MemoryRegistrationStore, type RegistrationStore } from '../lwm2m/server/registration-store.js';
import type { Registration } from '../lwm2m/server/registration.js';
import type { RegistrationPersistence, RegistrationWrite } from './types.js';

export const DEFAULT_FLUSH_INTERVAL_MS = 100;

export interface WriteBehindOptions {
  persistence: RegistrationPersistence;
  clock: Clock;
  logger?: Logger;
  flushIntervalMs?: number;
}

export class WriteBehindRegistrationStore implements RegistrationStore {
  private readonly memory = new MemoryRegistrationStore();
  private readonly persistence: RegistrationPersistence;
  private readonly clock: Clock;
  private readonly logger: Logger | undefined;
  private readonly flushIntervalMs: number;
  private pending: RegistrationWrite[] = [];
  private timer: TimerHandle | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;

  /** Loads every stored registration into memory, then serves from there. */
  static async open(options: WriteBehindOptions): Promise<WriteBehindRegistrationStore> {
    const store = new WriteBehindRegistrationStore(options);
    for (const registration of await options.persistence.loadAll()) store.memory.add(registration);
    return store;
  }

  private constructor(options: WriteBehindOptions) {
    this.persistence = options.persistence;
    this.clock = options.clock;
    this.logger = options.logger;
    this.flushIntervalMs = options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
  }

  newId(): string {
    return this.memory.newId();
  }

  add(registration: Registration): Registration | undefined {
    const replaced = this.memory.add(registration);
    // The put replaces the endpoint's stored registration, the replaced one included.
    this.write(registration);
    return replaced;
  }

  update(registration: Registration): Registration | undefined {
    const previous = this.memory.update(registration);
    if (previous) this.write(registration);
    return previous;
  }

  remove(id: string): Registration | undefined {
    const removed = this.memory.remove(id);
    if (removed) {
      this.write({ op: 'delete', endpoint: removed.endpoint });
      if (this.persistence.deleteNow) this.persistence.deleteNow(removed.endpoint);
      else void this.flush();
    }
    return removed;
  }

  get(endpoint: string): Registration | undefined {
    return this.memory.get(endpoint);
  }

  getById(id: string): Registration | undefined {
    return this.memory.getById(id);
  }

  getByAddress(remote: RemoteAddress): Registration | undefined {
    return this.memory.getByAddress(remote);
  }

  list(): Registration[] {
    return this.memory.list();
  }

  count(): number {
    return this.memory.count();
  }

  removeExpired(cutoff: number): Registration[] {
    const expired = this.memory.removeExpired(cutoff);
    for (const registration of expired) this.write({ op: 'delete', endpoint: registration.endpoint });
    return expired;
  }

  /** Writes that wait for the next flush. */
  pendingWrites(): number {
    return this.pending.length;
  }

  /**
   * Hands everything pending to the persistence as one batch, now (the persistence applies
   * batches in the order it gets them, and a deleteNow after this call prevails over it);
   * resolves once this batch and every earlier one are durable.
   */
  flush(): Promise<void> {
    if (this.timer) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending.length === 0) return this.flushing;
    const batch = this.pending;
    this.pending = [];
    const written = applyNow(this.persistence, batch).catch((err: unknown) => {
      // Keep serving from memory; the devices re-register if we restart before a later flush succeeds.
      this.logger?.error({ err, writes: batch.length }, 'registration flush failed; these changes are not durable');
    });
    this.flushing = Promise.all([this.flushing, written]).then(() => undefined);
    return this.flushing;
  }

  /** Flushes and stops the timer; later changes stay in memory only. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }

  private write(write: RegistrationWrite): void {
    this.pending.push(write);
    if (!this.timer && !this.closed) {
      this.timer = this.clock.setTimeout(() => {
        this.timer = undefined;
        void this.flush();
      }, this.flushIntervalMs);
    }
  }
}

/** apply(), with a synchronous throw turned into a rejection so it is logged like any failed flush. */
function applyNow(persistence: RegistrationPersistence, batch: readonly RegistrationWrite[]): Promise<void> {
  try {
    return persistence.apply(batch);
  } catch (error) {
    return Promise.reject(error as Error);
  }
}
