/**
 * The endpoint names of a campaign's members, numbered 0, 1, 2 … in the order they were
 * added, kept as UTF-16 code units in one typed buffer with an open-addressing hash index.
 * A million names cost a few typed arrays and no heap object: a string per member (and a
 * Map entry pointing at it) is what every major GC would have to mark, and at fleet scale
 * that marking is what made a tick long. name(i) makes a fresh string when asked.
 */
const EMPTY = 0;

export class EndpointTable {
  private chars: Uint16Array;
  /** Where name i starts in `chars`; name i ends where name i+1 starts (starts[count] = used). */
  private starts: Uint32Array;
  private hashes: Uint32Array;
  /** index + 1 of the name in each bucket (0 = empty); a power of two, at most half full. */
  private buckets: Int32Array;
  private count = 0;

  constructor(capacity = 16) {
    const n = Math.max(16, capacity);
    this.chars = new Uint16Array(n * 8);
    this.starts = new Uint32Array(n + 1);
    this.hashes = new Uint32Array(n);
    this.buckets = new Int32Array(bucketCount(n));
  }

  get size(): number {
    return this.count;
  }

  /** Adds a name not in the table yet and answers its number. */
  add(name: string): number {
    if (this.indexOf(name) !== undefined) throw new Error(`"${name}" is in the table already`);
    const i = this.count;
    if (i + 1 >= this.starts.length) this.growEntries((i + 1) * 2);
    const start = this.starts[i];
    if (start + name.length > this.chars.length) this.chars = grown16(this.chars, (start + name.length) * 2);
    for (let k = 0; k < name.length; k++) this.chars[start + k] = name.charCodeAt(k);
    this.starts[i + 1] = start + name.length;
    const h = hashOf(name);
    this.hashes[i] = h;
    this.count++;
    if (this.count * 2 > this.buckets.length) this.rehash(this.buckets.length * 2);
    else this.place(i, h);
    return i;
  }

  /** The number of a name, or undefined. */
  indexOf(name: string): number | undefined {
    const h = hashOf(name);
    const mask = this.buckets.length - 1;
    for (let b = h & mask; ; b = (b + 1) & mask) {
      const entry = this.buckets[b];
      if (entry === EMPTY) return undefined;
      const i = entry - 1;
      if (this.hashes[i] === h && this.equals(i, name)) return i;
    }
  }

  has(name: string): boolean {
    return this.indexOf(name) !== undefined;
  }

  /** Name i as a new string. */
  name(i: number): string {
    if (i < 0 || i >= this.count) throw new RangeError(`no endpoint number ${i}`);
    const start = this.starts[i];
    const end = this.starts[i + 1];
    // Names are short: one call decodes them; long ones are decoded in slices.
    if (end - start <= 4096) return String.fromCharCode.apply(null, this.chars.subarray(start, end) as unknown as number[]);
    let text = '';
    for (let k = start; k < end; k += 4096) text += String.fromCharCode.apply(null, this.chars.subarray(k, Math.min(end, k + 4096)) as unknown as number[]);
    return text;
  }

  /** Every name in number order (a new array: for views and tests, not ticks). */
  names(): string[] {
    const names: string[] = [];
    for (let i = 0; i < this.count; i++) names.push(this.name(i));
    return names;
  }

  private equals(i: number, name: string): boolean {
    const start = this.starts[i];
    if (this.starts[i + 1] - start !== name.length) return false;
    for (let k = 0; k < name.length; k++) if (this.chars[start + k] !== name.charCodeAt(k)) return false;
    return true;
  }

  private place(i: number, h: number): void {
    const mask = this.buckets.length - 1;
    let b = h & mask;
    while (this.buckets[b] !== EMPTY) b = (b + 1) & mask;
    this.buckets[b] = i + 1;
  }

  private rehash(size: number): void {
    this.buckets = new Int32Array(size);
    for (let i = 0; i < this.count; i++) this.place(i, this.hashes[i]);
  }

  private growEntries(capacity: number): void {
    const starts = new Uint32Array(capacity + 1);
    starts.set(this.starts);
    this.starts = starts;
    const hashes = new Uint32Array(capacity);
    hashes.set(this.hashes);
    this.hashes = hashes;
  }
}

function bucketCount(entries: number): number {
  let size = 32;
  while (size < entries * 2) size *= 2;
  return size;
}

function grown16(array: Uint16Array, atLeast: number): Uint16Array {
  const next = new Uint16Array(Math.max(atLeast, array.length * 2));
  next.set(array);
  return next;
}

/** FNV-1a over the UTF-16 code units, then mixed so the low bits (the bucket) vary. */
function hashOf(name: string): number {
  let h = 2166136261;
  for (let k = 0; k < name.length; k++) h = Math.imul(h ^ name.charCodeAt(k), 16777619);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}
