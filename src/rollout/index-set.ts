/**
 * A set of small non-negative integers (member indices) that allocates nothing once grown:
 * a dense list plus each member's position in it. A Set<number> that sees a million adds and
 * deletes rebuilds its hash table again and again, and those tables are garbage the major GC
 * has to collect in the middle of a tick.
 */
export class IndexSet {
  private items: Int32Array;
  /** position + 1 of each index in `items` (0 = absent). */
  private slots: Int32Array;
  private count = 0;

  /** `indices`: one more than the largest index expected; `members`: how many at once. Both grow as needed. */
  constructor(indices = 16, members = 16) {
    this.items = new Int32Array(Math.max(16, members));
    this.slots = new Int32Array(Math.max(16, indices));
  }

  /** Makes room for indices below `indices` now, rather than inside a later add(). */
  reserve(indices: number): void {
    if (indices > this.slots.length) this.slots = grown(this.slots, indices);
  }

  get size(): number {
    return this.count;
  }

  has(i: number): boolean {
    return i < this.slots.length && this.slots[i] !== 0;
  }

  add(i: number): void {
    if (i >= this.slots.length) this.slots = grown(this.slots, i + 1);
    if (this.slots[i] !== 0) return;
    if (this.count === this.items.length) this.items = grown(this.items, this.count + 1);
    this.items[this.count] = i;
    this.slots[i] = ++this.count;
  }

  delete(i: number): boolean {
    if (!this.has(i)) return false;
    const at = this.slots[i] - 1;
    const last = this.items[--this.count];
    this.items[at] = last;
    this.slots[last] = at + 1;
    this.slots[i] = 0;
    return true;
  }

  /**
   * The member at position k (0 ≤ k < size). Hot loops walk k from size-1 down to 0, skipping
   * k ≥ size: deleting the member being visited (or one already visited) is then safe, as the
   * last member moves into the freed place, which was visited already. (A generator would
   * allocate a result object per member.)
   */
  at(k: number): number {
    return this.items[k];
  }

  /** Newest first, with the same deletion rule as at(). */
  *[Symbol.iterator](): IterableIterator<number> {
    for (let k = this.count - 1; k >= 0; k--) if (k < this.count) yield this.items[k];
  }
}

function grown(array: Int32Array, atLeast: number): Int32Array {
  const next = new Int32Array(Math.max(atLeast, array.length * 2));
  next.set(array);
  return next;
}
