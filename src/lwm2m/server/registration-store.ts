import { peerKey } from '../../coap/peer-key.js';
import type { RemoteAddress } from '../../coap/types.js';
import type { Registration } from './registration.js';
import { randomIdSuffix } from './registration-id.js';
import { EndpointIndex } from './endpoint-index.js';

/**
 * Where registrations live. Each method is one atomic step, so a persistent store
 * (SQLite next) can implement each as one statement or transaction. Synchronous on
 * purpose: the registration hot path must not wait on a promise per message; a remote
 * store would sit behind a write-behind cache with this same shape.
 */
export interface RegistrationStore {
  /**
   * A fresh id for the next `add`: unique among live registrations and unguessable. The
   * store makes it because it can then find the registration by id without a hash index.
   */
  newId(): string;
  /** Stores a new registration; returns the one it replaced (same endpoint), which is gone afterwards. */
  add(registration: Registration): Registration | undefined;
  /** Replaces the registration with the same id; returns the previous one, or undefined (and stores nothing) when the id is unknown. */
  update(registration: Registration): Registration | undefined;
  remove(id: string): Registration | undefined;
  get(endpoint: string): Registration | undefined;
  getById(id: string): Registration | undefined;
  /** The registration whose device speaks from this address and port. */
  getByAddress(remote: RemoteAddress): Registration | undefined;
  list(): Registration[];
  count(): number;
  /** Removes and returns every registration with expiresAt <= cutoff. */
  removeExpired(cutoff: number): Registration[];
}

/**
 * Registrations in memory. Lookups by id cost no hash index: an id the store made is
 * "<slot in base 36>-<random>", and the slot is the registration's index in an array
 * (a quarter of the store's cost on the registration path when the id had its own Map of
 * several hundred thousand entries). Ids of another shape (restored from an older store,
 * or chosen by a test) live in a small side map.
 */
export class MemoryRegistrationStore implements RegistrationStore {
  private readonly byEndpoint = new EndpointIndex<Registration>();
  private readonly slots: (Registration | undefined)[] = [];
  /** Slots freed by removals, reused first; entries may be stale (taken since), skipped on pop. */
  private readonly freeSlots: number[] = [];
  private readonly otherIds = new Map<string, Registration>();
  private readonly byAddress = new Map<number | string, Registration>();
  // A lower bound of every expiresAt, so most sweeps skip the scan entirely.
  private earliestExpiry = Infinity;

  newId(): string {
    return `${this.nextFreeSlot().toString(36)}-${randomIdSuffix()}`;
  }

  add(registration: Registration): Registration | undefined {
    const replaced = this.byEndpoint.get(registration.endpoint);
    if (replaced) this.forget(replaced);
    this.index(registration);
    return replaced;
  }

  update(registration: Registration): Registration | undefined {
    const previous = this.getById(registration.id);
    if (!previous) return undefined;
    this.forget(previous);
    this.index(registration);
    return previous;
  }

  remove(id: string): Registration | undefined {
    const registration = this.getById(id);
    if (registration) this.forget(registration);
    return registration;
  }

  get(endpoint: string): Registration | undefined {
    return this.byEndpoint.get(endpoint);
  }

  getById(id: string): Registration | undefined {
    const slot = slotOf(id);
    if (slot >= 0) {
      const registration = this.slots[slot];
      if (registration !== undefined && registration.id === id) return registration;
    }
    return this.otherIds.get(id);
  }

  getByAddress(remote: RemoteAddress): Registration | undefined {
    return this.byAddress.get(peerKey(remote));
  }

  list(): Registration[] {
    return [...this.byEndpoint.values()];
  }

  count(): number {
    return this.byEndpoint.size;
  }

  removeExpired(cutoff: number): Registration[] {
    if (cutoff < this.earliestExpiry) return [];
    const expired: Registration[] = [];
    let earliest = Infinity;
    for (const registration of this.byEndpoint.values()) {
      if (registration.expiresAt <= cutoff) expired.push(registration);
      else if (registration.expiresAt < earliest) earliest = registration.expiresAt;
    }
    for (const registration of expired) this.forget(registration);
    this.earliestExpiry = earliest;
    return expired;
  }

  private nextFreeSlot(): number {
    const free = this.freeSlots;
    while (free.length > 0) {
      const slot = free[free.length - 1];
      if (this.slots[slot] === undefined) return slot;
      free.pop();
    }
    return this.slots.length;
  }

  private index(registration: Registration): void {
    this.byEndpoint.set(registration);
    const slot = slotOf(registration.id);
    if (slot >= 0 && slot < this.slots.length + MAX_SLOT_GAP && (this.slots[slot] === undefined || this.slots[slot]!.id === registration.id)) {
      // A registration restored from a store starts beyond the end: the gap becomes free slots.
      while (this.slots.length < slot) {
        this.freeSlots.push(this.slots.length);
        this.slots.push(undefined);
      }
      this.slots[slot] = registration;
    } else {
      this.otherIds.set(registration.id, registration);
    }
    // The newest registration owns an address (a NAT may hand an old device's port to a new one).
    this.byAddress.set(peerKey(registration.address), registration);
    if (registration.expiresAt < this.earliestExpiry) this.earliestExpiry = registration.expiresAt;
  }

  private forget(registration: Registration): void {
    this.byEndpoint.delete(registration.endpoint);
    const slot = slotOf(registration.id);
    if (slot >= 0 && this.slots[slot] === registration) {
      this.slots[slot] = undefined;
      this.freeSlots.push(slot);
    } else {
      this.otherIds.delete(registration.id);
    }
    const key = peerKey(registration.address);
    if (this.byAddress.get(key) === registration) this.byAddress.delete(key);
  }
}

/** How far past the end a restored id may place its slot (a bound against a corrupt id). */
const MAX_SLOT_GAP = 1 << 20;

/** The slot of a store-made id ("<base36>-…"), or -1 for an id of any other shape. */
function slotOf(id: string): number {
  let slot = 0;
  const end = id.indexOf('-');
  // Up to 6 base-36 digits: two billion slots, far beyond any heap.
  if (end <= 0 || end > 6) return -1;
  for (let i = 0; i < end; i++) {
    const c = id.charCodeAt(i);
    const digit = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 122 ? c - 87 : -1;
    if (digit < 0) return -1;
    slot = slot * 36 + digit;
  }
  return slot;
}
