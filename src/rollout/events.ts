/** What the scheduler tells operators (SSE, CLI watch, logs): every campaign and stage change, every halt. */
import { EventEmitter } from 'node:events';

export type RolloutEvent =
  | { type: 'campaign'; campaignId: string; at: number; from: string; to: string; reason?: string }
  | { type: 'stage'; campaignId: string; at: number; stage: number; name: string; from: string; to: string }
  | { type: 'halted'; campaignId: string; at: number; stage: number; reason: string; devices: string[] };

export class RolloutEvents {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  on(listener: (event: RolloutEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }

  emit(event: RolloutEvent): void {
    for (const listener of this.emitter.listeners('event')) {
      try {
        (listener as (e: RolloutEvent) => void)(event);
      } catch {
        // A listener's bug must not stop the scheduler.
      }
    }
  }
}
