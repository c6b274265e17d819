/**
 * A Map whose entries expire in bulk: two generations, rotated every `generationMs` on
 * access (no timers). An entry lives at least `generationMs` and less than twice that, so
 * memory is bounded without a timer or a timestamp per entry.
 */
import type { Clock } from '../util/clock.js';

export class GenerationalMap<K, V> {
  private current = new Map<K, V>();
  private previous = new Map<K, V>();
  private pair: readonly [Map<K, V>, Map<K, V>] = [this.current, this.previous];
  private rotateAt: number;

  constructor(
    private readonly clock: Clock,
    private readonly generationMs: number,
  ) {
    this.rotateAt = clock.now() + generationMs;
  }

  get(key: K): V | undefined {
    this.maybeRotate();
    const value = this.current.get(key);
    return value !== undefined ? value : this.previous.get(key);
  }

  set(key: K, value: V): void {
    this.maybeRotate();
    this.previous.delete(key);
    this.current.set(key, value);
  }

  /** Re-inserts into the current generation, restarting its lifetime. */
  touch(key: K): V | undefined {
    const value = this.get(key);
    if (value !== undefined) this.set(key, value);
    return value;
  }

  delete(key: K): void {
    this.current.delete(key);
    this.previous.delete(key);
  }

  get size(): number {
    this.maybeRotate();
    return this.current.size + this.previous.size;
  }

  clear(): void {
    this.current.clear();
    this.previous.clear();
  }

  /** Deletes every entry whose value `test` accepts; returns how many. Walks both generations. */
  deleteWhere(test: (value: V) => boolean): number {
    let deleted = 0;
    for (const generation of [this.current, this.previous]) {
      for (const [key, value] of generation) {
        if (!test(value)) continue;
        generation.delete(key);
        deleted++;
      }
    }
    return deleted;
  }

  /**
   * Both generations, newest first, after any due rotation: for callers that keep nested
   * maps and must look into each generation themselves (see DedupCache).
   */
  generations(now = this.clock.now()): readonly [current: Map<K, V>, previous: Map<K, V>] {
    this.maybeRotate(now);
    // One tuple per rotation, not per call: this sits on the per-datagram path.
    if (this.pair[0] !== this.current) this.pair = [this.current, this.previous];
    return this.pair;
  }

  /** `now`: a caller that has just read the clock passes what it read (a lookup per datagram). */
  private maybeRotate(now = this.clock.now()): void {
    if (now < this.rotateAt) return;
    if (now >= this.rotateAt + this.generationMs) {
      // Idle for two generations: everything is stale.
      this.previous = new Map();
      this.current = new Map();
    } else {
      this.previous = this.current;
      this.current = new Map();
    }
    this.rotateAt = now + this.generationMs;
  }
}
