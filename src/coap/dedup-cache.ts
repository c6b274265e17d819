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
  /**
   * When the datagram arrived: the generations are rotated against this time, so a get and
   * the set after it read the clock once. A set made later (an answer that took a while)
   * may rotate late; its entry then lives longer, never shorter than a generation.
   */
  readonly at: number;
}

/** Most peers have one exchange in the cache at a time: that one is kept without a map. */
interface SingleEntry<V> {
  messageId: number;
  value: V;
}

/**
 * A peer's entries once it has more than one: message IDs in pages of 16 consecutive IDs.
 * Peers count their IDs up one by one, so consecutive requests land in the same page, and
 * a busy peer's page table is a sixteenth of a Map keyed by ID (that lookup, scattered over
 * up to 65,536 entries, was a twentieth of the registration path). Small pages keep a
 * device with two exchanges about as small as a two-entry Map.
 */
const PAGE_BITS = 4;
const PAGE_SIZE = 1 << PAGE_BITS;
const IN_PAGE = PAGE_SIZE - 1;

class MessageIdPages<V> {
  private readonly pages = new Map<number, (V | undefined)[]>();
  count = 0;

  get(messageId: number): V | undefined {
    const page = this.pages.get(messageId >> PAGE_BITS);
    return page === undefined ? undefined : page[messageId & IN_PAGE];
  }

  set(messageId: number, value: V): void {
    let page = this.pages.get(messageId >> PAGE_BITS);
    if (page === undefined) {
      page = new Array<V | undefined>(PAGE_SIZE).fill(undefined);
      this.pages.set(messageId >> PAGE_BITS, page);
    }
    if (page[messageId & IN_PAGE] === undefined) this.count++;
    page[messageId & IN_PAGE] = value;
  }

  delete(messageId: number): void {
    const page = this.pages.get(messageId >> PAGE_BITS);
    if (page === undefined || page[messageId & IN_PAGE] === undefined) return;
    page[messageId & IN_PAGE] = undefined;
    this.count--;
  }
}

type PeerEntries<V> = SingleEntry<V> | MessageIdPages<V>;

export class DedupCache<V> {
  // Peer → its entries. Expiry works on whole peers, one generation at a time.
  private readonly peers: GenerationalMap<number | string, PeerEntries<V>>;

  constructor(
    private readonly clock: Clock,
    lifetimeMs: number,
  ) {
    this.peers = new GenerationalMap(clock, lifetimeMs);
  }

  key(remote: RemoteAddress, messageId: number): DedupKey {
    return { peer: peerKey(remote), messageId, at: this.clock.now() };
  }

  get(key: DedupKey): V | undefined {
    const [current, previous] = this.peers.generations(key.at);
    const fresh = lookup(current.get(key.peer), key.messageId);
    return fresh !== undefined ? fresh : lookup(previous.get(key.peer), key.messageId);
  }

  set(key: DedupKey, value: V): void {
    const [current, previous] = this.peers.generations(key.at);
    const old = previous.get(key.peer);
    if (old instanceof MessageIdPages) old.delete(key.messageId);
    else if (old !== undefined && old.messageId === key.messageId) previous.delete(key.peer);

    const entries = current.get(key.peer);
    if (entries === undefined) {
      current.set(key.peer, { messageId: key.messageId, value });
    } else if (entries instanceof MessageIdPages) {
      entries.set(key.messageId, value);
    } else if (entries.messageId === key.messageId) {
      entries.value = value;
    } else {
      // A second exchange from the same peer: from now on it gets pages of its own.
      const pages = new MessageIdPages<V>();
      pages.set(entries.messageId, entries.value);
      pages.set(key.messageId, value);
      current.set(key.peer, pages);
    }
  }

  /** Entries held (for tests and metrics; walks every peer). */
  get size(): number {
    let total = 0;
    for (const generation of this.peers.generations()) {
      for (const entries of generation.values()) total += entries instanceof MessageIdPages ? entries.count : 1;
    }
    return total;
  }

  clear(): void {
    this.peers.clear();
  }
}

function lookup<V>(entries: PeerEntries<V> | undefined, messageId: number): V | undefined {
  if (entries === undefined) return undefined;
  if (entries instanceof MessageIdPages) return entries.get(messageId);
  return entries.messageId === messageId ? entries.value : undefined;
}
