/**
 * Server-side Block2 (RFC 7959 §2.4): large response bodies kept for the follow-up GETs of
 * blocks 1..n, keyed by remote + path + query, expiring with their generation.
 */
import type { Clock } from '../util/clock.js';
import { GenerationalMap } from './generational-map.js';
import type { OutgoingResponse } from './types.js';

export interface CachedBody {
  response: OutgoingResponse;
  body: Buffer;
  etag: Buffer;
}

export class Block2Cache {
  private readonly bodies: GenerationalMap<string, CachedBody>;
  private etagCounter = Math.floor(Math.random() * 0xffffffff);

  constructor(clock: Clock, lifetimeMs: number) {
    this.bodies = new GenerationalMap(clock, lifetimeMs);
  }

  /**
   * The body, its lifetime restarted. Asked for every block served (twice per block, by the
   * endpoint), so an entry already in the current generation is left where it is: only one
   * found in the previous generation is moved forward.
   */
  get(key: string): CachedBody | undefined {
    const [current, previous] = this.bodies.generations();
    const fresh = current.get(key);
    if (fresh !== undefined) return fresh;
    const old = previous.get(key);
    if (old !== undefined) this.bodies.set(key, old);
    return old;
  }

  /** Stores the body with a fresh ETag, so a client can tell a changed representation. */
  put(key: string, response: OutgoingResponse, body: Buffer): CachedBody {
    this.etagCounter = (this.etagCounter + 1) >>> 0;
    const etag = Buffer.allocUnsafe(4);
    etag.writeUInt32BE(this.etagCounter, 0);
    const entry = { response, body, etag };
    this.bodies.set(key, entry);
    return entry;
  }

  /** Drops the bodies whose response `test` accepts (a resource that must no longer be served). */
  forget(test: (response: OutgoingResponse) => boolean): number {
    return this.bodies.deleteWhere((entry) => test(entry.response));
  }

  get size(): number {
    return this.bodies.size;
  }
}
