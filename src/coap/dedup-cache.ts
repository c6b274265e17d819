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

/** Identifies one exchange for the cache; made once per datagram. */
export interface DedupKey {
  readonly peer: number | string;
  readonly messageId: number;
}

type Generation<V> = Map<number | string, Map<number, V>>;

export class DedupCache<V> {
  private current: Generation<V> = new Map();
  private previous: Generation<V> = new Map();
  private rotateAt: number;

  constructor(
    private readonly clock: Clock,
    private readonly lifetimeMs: number,
  ) {
    this.rotateAt = clock.now() + lifetimeMs;
  }

  static key(remote: RemoteAddress, messageId: number): DedupKey {
    return { peer: peerKey(remote), messageId };
  }

  get(key: DedupKey): V | undefined {
    this.maybeRotate();
    const fresh = this.current.get(key.peer)?.get(key.messageId);
    return fresh !== undefined ? fresh : this.previous.get(key.peer)?.get(key.messageId);
  }

  set(key: DedupKey, value: V): void {
    this.maybeRotate();
    this.previous.get(key.peer)?.delete(key.messageId);
    let peer = this.current.get(key.peer);
    if (peer === undefined) {
      peer = new Map();
      this.current.set(key.peer, peer);
    }
    peer.set(key.messageId, value);
  }

  /** Entries held (for tests and metrics; walks every peer). */
  get size(): number {
    this.maybeRotate();
    let total = 0;
    for (const generation of [this.current, this.previous]) for (const peer of generation.values()) total += peer.size;
    return total;
  }

  clear(): void {
    this.current.clear();
    this.previous.clear();
  }

  private maybeRotate(): void {
    const now = this.clock.now();
    if (now < this.rotateAt) return;
    if (now >= this.rotateAt + this.lifetimeMs) {
      // Idle for two generations: everything is stale.
      this.previous = new Map();
    } else {
      this.previous = this.current;
    }
    this.current = new Map();
    this.rotateAt = now + this.lifetimeMs;
  }
}
