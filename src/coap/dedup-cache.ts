/**
 * Message-ID de-duplication (RFC 7252 §4.5): what we answered to each (peer, message ID),
 * kept for EXCHANGE_LIFETIME. It sits on the hot path of every request, so the key avoids
 * building a string per datagram: an IPv4 peer is one number (address and port), and each
 * peer's message IDs are small integers in a map of their own. Entries expire in bulk, two
 * generations rotated on access, so there is no timer or timestamp per entry.
 */
import type { Clock } from '../util/clock.js';
import type { RemoteAddress } from './types.js';
import { peerKey } from './peer-key.js';
import { GenerationalMap } from './generational-map.js';

/** Identifies one exchange for the cache; made once per datagram. */
export interface DedupKey {
  readonly peer: number | string;
  readonly messageId: number;
}

export class DedupCache<V> {
  // Peer → (message ID → entry). Expiry works on whole inner maps, one generation at a time.
  private readonly peers: GenerationalMap<number | string, Map<number, V>>;

  constructor(clock: Clock, lifetimeMs: number) {
    this.peers = new GenerationalMap(clock, lifetimeMs);
  }

  static key(remote: RemoteAddress, messageId: number): DedupKey {
    return { peer: peerKey(remote), messageId };
  }

  get(key: DedupKey): V | undefined {
    const [current, previous] = this.peers.generations();
    const fresh = current.get(key.peer)?.get(key.messageId);
    return fresh !== undefined ? fresh : previous.get(key.peer)?.get(key.messageId);
  }

  set(key: DedupKey, value: V): void {
    const [current, previous] = this.peers.generations();
    previous.get(key.peer)?.delete(key.messageId);
    let peer = current.get(key.peer);
    if (peer === undefined) {
      peer = new Map();
      current.set(key.peer, peer);
    }
    peer.set(key.messageId, value);
  }

  /** Entries held (for tests and metrics; walks every peer). */
  get size(): number {
    let total = 0;
    for (const generation of this.peers.generations()) for (const peer of generation.values()) total += peer.size;
    return total;
  }

  clear(): void {
    this.peers.clear();
  }
}
