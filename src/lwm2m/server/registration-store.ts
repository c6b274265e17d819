import { peerKey } from '../../coap/peer-key.js';
import type { RemoteAddress } from '../../coap/types.js';
import type { Registration } from './registration.js';

/**
 * Where registrations live. Each method is one atomic step, so a persistent store
 * (SQLite next) can implement each as one statement or transaction. Synchronous on
 * purpose: the registration hot path must not wait on a promise per message; a remote
 * store would sit behind a write-behind cache with this same shape.
 */
export interface RegistrationStore {
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

export class MemoryRegistrationStore implements RegistrationStore {
  private readonly byEndpoint = new Map<string, Registration>();
  private readonly byId = new Map<string, Registration>();
  private readonly byAddress = new Map<number | string, Registration>();
  // A lower bound of every expiresAt, so most sweeps skip the scan entirely.
  private earliestExpiry = Infinity;

  add(registration: Registration): Registration | undefined {
    const replaced = this.byEndpoint.get(registration.endpoint);
    if (replaced) this.forget(replaced);
    this.index(registration);
    return replaced;
  }

  update(registration: Registration): Registration | undefined {
    const previous = this.byId.get(registration.id);
    if (!previous) return undefined;
    this.forget(previous);
    this.index(registration);
    return previous;
  }

  remove(id: string): Registration | undefined {
    const registration = this.byId.get(id);
    if (registration) this.forget(registration);
    return registration;
  }

  get(endpoint: string): Registration | undefined {
    return this.byEndpoint.get(endpoint);
  }

  getById(id: string): Registration | undefined {
    return this.byId.get(id);
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

  private index(registration: Registration): void {
    this.byEndpoint.set(registration.endpoint, registration);
    this.byId.set(registration.id, registration);
    // The newest registration owns an address (a NAT may hand an old device's port to a new one).
    this.byAddress.set(peerKey(registration.address), registration);
    if (registration.expiresAt < this.earliestExpiry) this.earliestExpiry = registration.expiresAt;
  }

  private forget(registration: Registration): void {
    this.byEndpoint.delete(registration.endpoint);
    this.byId.delete(registration.id);
    const key = peerKey(registration.address);
    if (this.byAddress.get(key) === registration) this.byAddress.delete(key);
  }
}
