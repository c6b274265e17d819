import { randomBytes } from 'node:crypto';

/**
 * Registrations by endpoint name: an open-addressing hash table over typed arrays that keeps
 * each key's hash beside its slot. A Map of several hundred thousand string keys was the
 * largest cost of the registration path that is ours (about a fifth of it): every lookup of
 * a new name walked a chain of entries whose keys lie scattered in the heap, and every growth
 * re-read every key string. Here a miss touches one cache line of the table, and growing it
 * reads only the stored hashes.
 *
 * Iteration is in insertion order (as a Map's): values are appended to a list whose holes
 * (deleted entries) are squeezed out when they outnumber the live ones.
 */
export class EndpointIndex<T extends { readonly endpoint: string }> {
  /** Pairs [hash, position + 1]; position + 1 = 0 marks an empty slot. */
  private table = new Int32Array(2 * 1024);
  private mask = 1024 - 1;
  /** Values in insertion order; undefined where one was deleted. */
  private entries: (T | undefined)[] = [];
  /** The hash of entries[i] at i (a typed array: no boxed numbers, and growth is one copy). */
  private entryHashes = new Int32Array(1024);
  private live = 0;

  get size(): number {
    return this.live;
  }

  get(endpoint: string): T | undefined {
    const hash = hashOf(endpoint);
    const table = this.table;
    for (let slot = hash & this.mask; ; slot = (slot + 1) & this.mask) {
      const ref = table[2 * slot + 1];
      if (ref === 0) return undefined;
      if (table[2 * slot] === hash) {
        const entry = this.entries[ref - 1];
        if (entry !== undefined && entry.endpoint === endpoint) return entry;
      }
    }
  }

  /** Stores `value` under its endpoint; an entry already there is replaced (and keeps its place). */
  set(value: T): void {
    const hash = hashOf(value.endpoint);
    const table = this.table;
    let slot = hash & this.mask;
    for (; ; slot = (slot + 1) & this.mask) {
      const ref = table[2 * slot + 1];
      if (ref === 0) break;
      if (table[2 * slot] === hash && this.entries[ref - 1]?.endpoint === value.endpoint) {
        this.entries[ref - 1] = value;
        return;
      }
    }
    table[2 * slot] = hash;
    const position = this.entries.length;
    table[2 * slot + 1] = position + 1;
    this.entries.push(value);
    if (position === this.entryHashes.length) this.entryHashes = grown(this.entryHashes, 2 * position);
    this.entryHashes[position] = hash;
    this.live++;
    // Load factor at most one half keeps probe runs short.
    if (2 * this.live > this.mask + 1) this.rebuild(2 * (this.mask + 1));
  }

  delete(endpoint: string): T | undefined {
    const hash = hashOf(endpoint);
    const table = this.table;
    for (let slot = hash & this.mask; ; slot = (slot + 1) & this.mask) {
      const ref = table[2 * slot + 1];
      if (ref === 0) return undefined;
      const entry = this.entries[ref - 1];
      if (table[2 * slot] === hash && entry !== undefined && entry.endpoint === endpoint) {
        this.entries[ref - 1] = undefined;
        this.live--;
        this.closeGap(slot);
        const holes = this.entries.length - this.live;
        if (holes > 1024 && holes > this.live) this.rebuild(this.mask + 1);
        return entry;
      }
    }
  }

  *values(): IterableIterator<T> {
    // Walks the list as it was when iteration began: an entry deleted meanwhile is skipped
    // unless a compaction replaced the list first, so callers that delete (the expiry sweep)
    // collect what they want, then delete.
    const entries = this.entries;
    const end = entries.length;
    for (let i = 0; i < end; i++) {
      const entry = entries[i];
      if (entry !== undefined) yield entry;
    }
  }

  /** Backward-shift deletion: moves later members of the probe run into the freed slot. */
  private closeGap(freed: number): void {
    const table = this.table;
    const mask = this.mask;
    let gap = freed;
    for (let slot = (gap + 1) & mask; table[2 * slot + 1] !== 0; slot = (slot + 1) & mask) {
      const home = table[2 * slot] & mask;
      // The entry may move back to the gap unless its home lies cyclically in (gap, slot].
      const homeAfterGap = gap <= slot ? gap < home && home <= slot : gap < home || home <= slot;
      if (homeAfterGap) continue;
      table[2 * gap] = table[2 * slot];
      table[2 * gap + 1] = table[2 * slot + 1];
      gap = slot;
    }
    table[2 * gap] = 0;
    table[2 * gap + 1] = 0;
  }

  /** New table of `capacity` slots; the value list loses its holes. Reads no key string. */
  private rebuild(capacity: number): void {
    // Growth without deletions (the common case) keeps the lists as they are.
    if (this.entries.length !== this.live) this.squeezeHoles();
    const entries = this.entries;
    const hashes = this.entryHashes;
    const table = new Int32Array(2 * capacity);
    const mask = capacity - 1;
    for (let position = 0; position < entries.length; position++) {
      let slot = hashes[position] & mask;
      while (table[2 * slot + 1] !== 0) slot = (slot + 1) & mask;
      table[2 * slot] = hashes[position];
      table[2 * slot + 1] = position + 1;
    }
    this.table = table;
    this.mask = mask;
  }

  private squeezeHoles(): void {
    const entries: (T | undefined)[] = [];
    const hashes = new Int32Array(Math.max(1024, this.live));
    for (let i = 0; i < this.entries.length; i++) {
      if (this.entries[i] === undefined) continue;
      hashes[entries.length] = this.entryHashes[i];
      entries.push(this.entries[i]);
    }
    this.entries = entries;
    this.entryHashes = hashes;
  }
}

function grown(array: Int32Array<ArrayBuffer>, length: number): Int32Array<ArrayBuffer> {
  const bigger = new Int32Array(length);
  bigger.set(array);
  return bigger;
}

// A per-process random start: names are chosen by devices, so a fixed hash would let anyone
// who knows it register names that all land in one probe run.
const SEED = randomBytes(4).readInt32LE(0);

/** FNV-1a over UTF-16 code units from a random offset basis. */
function hashOf(s: string): number {
  let hash = SEED;
  for (let i = 0; i < s.length; i++) hash = Math.imul(hash ^ s.charCodeAt(i), 0x01000193);
  return hash;
}
