/** Bounded LRU of resumable sessions, keyed by session id. */
import type { ResumableSession } from './connection.js';

export class SessionCache {
  private readonly entries = new Map<string, ResumableSession>();

  constructor(private readonly capacity: number) {}

  get(sessionId: Buffer): ResumableSession | undefined {
    const key = sessionId.toString('hex');
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }

  put(session: ResumableSession): void {
    if (this.capacity <= 0 || session.sessionId.length === 0) return;
    const key = session.sessionId.toString('hex');
    this.entries.delete(key);
    this.entries.set(key, session);
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }

  get size(): number {
    return this.entries.size;
  }
}
