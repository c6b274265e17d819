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
 *
 * A persistence that appends every write to a log asks for a rewrite when the log has
 * grown long (RegistrationPersistence.wantsRewrite). The write-behind then puts every
 * registration live at that moment again, a chunk per flush, between a rewrite-begin and a
 * rewrite-end (RegistrationWrite), and the log drops what lies before the begin. Re-putting
 * the current registration of an endpoint is always right, so the rewrite needs no pause:
 * whatever changes meanwhile is written as usual, after.
 */
import type { RemoteAddress } from '../coap/types.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import { MemoryRegistrationStore, type RegistrationStore } from '../lwm2m/server/registration-store.js';
import type { Registration } from '../lwm2m/server/registration.js';
import { REWRITE_BEGIN, REWRITE_END, type RegistrationPersistence, type RegistrationWrite } from './types.js';

export const DEFAULT_FLUSH_INTERVAL_MS = 100;

/** Registrations put again per flush during a rewrite: a million in ~12 s at the default interval, a few ms of encoding per flush. */
export const REWRITE_CHUNK = 8192;

export interface WriteBehindOptions {
  persistence: RegistrationPersistence;
  clock: Clock;
  logger?: Logger;
  flushIntervalMs?: number;
  /** See REWRITE_CHUNK. */
  rewriteChunk?: number;
}

export class WriteBehindRegistrationStore implements RegistrationStore {
  private readonly memory = new MemoryRegistrationStore();
  private readonly persistence: RegistrationPersistence;
  private readonly clock: Clock;
  private readonly logger: Logger | undefined;
  private readonly flushIntervalMs: number;
  private readonly rewriteChunk: number;
  // While the persistence's log is rewritten: the endpoints live at its begin, and how far the re-puts got.
  private rewrite: { endpoints: string[]; next: number } | undefined;
  private pending: RegistrationWrite[] = [];
  private timer: TimerHandle | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;

  /** Loads every stored registration into memory, then serves from there. */
  static async open(options: WriteBehindOptions): Promise<WriteBehindRegistrationStore> {
    const store = new WriteBehindRegistrationStore(options);
    for (const registration of await options.persistence.loadAll()) store.memory.add(registration);
    // A long log is rewritten even if no device writes for a while.
    if (options.persistence.wantsRewrite?.(store.memory.count())) store.arm();
    return store;
  }

  private constructor(options: WriteBehindOptions) {
    this.persistence = options.persistence;
    this.clock = options.clock;
    this.logger = options.logger;
    this.flushIntervalMs = options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
    this.rewriteChunk = options.rewriteChunk ?? REWRITE_CHUNK;
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
    this.continueRewrite();
    if (this.pending.length === 0) return this.flushing;
    const batch = this.pending;
    this.pending = [];
    const written = applyNow(this.persistence, batch).catch((err: unknown) => {
      // Keep serving from memory; the devices re-register if we restart before a later flush succeeds.
      this.logger?.error({ err, writes: batch.length }, 'registration flush failed; these changes are not durable');
    });
    this.flushing = Promise.all([this.flushing, written]).then(() => undefined);
    // The next chunk of a rewrite goes with the next flush, even if no device writes.
    if (this.rewrite) this.arm();
    return this.flushing;
  }

  /** Flushes and stops the timer; later changes stay in memory only. */
  async close(): Promise<void> {
    const flushed = this.flush();
    this.closed = true;
    // A rewrite in progress stops here (the log stays long, and is rewritten after the next start).
    if (this.timer) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    await flushed;
  }

  private write(write: RegistrationWrite): void {
    this.pending.push(write);
    this.arm();
  }

  private arm(): void {
    if (this.timer || this.closed) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.flushIntervalMs);
  }

  /** Starts a rewrite when the persistence wants one, and adds its next chunk of re-puts to the pending writes. */
  private continueRewrite(): void {
    if (this.closed) return;
    if (!this.rewrite) {
      if (!this.persistence.wantsRewrite?.(this.memory.count())) return;
      this.pending.push(REWRITE_BEGIN);
      this.rewrite = { endpoints: this.memory.list().map((r) => r.endpoint), next: 0 };
    }
    const { endpoints, next } = this.rewrite;
    const end = Math.min(endpoints.length, next + this.rewriteChunk);
    for (let i = next; i < end; i++) {
      // Its registration now (one removed since has its delete in the log already).
      const current = this.memory.get(endpoints[i]);
      if (current) this.pending.push(current);
    }
    this.rewrite.next = end;
    if (end === endpoints.length) {
      this.pending.push(REWRITE_END);
      this.rewrite = undefined;
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
