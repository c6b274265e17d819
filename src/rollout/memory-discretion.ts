/** Device status kept in memory: what tests, the benchmark and the LwM2M fleet view fill. */
import type { DiscretionSource, DiscretionStatus } from './discretion.js';

export class MemoryDiscretion implements DiscretionSource {
  private readonly statuses = new Map<string, DiscretionStatus>();
  private readonly listeners = new Set<(endpoint: string) => void>();

  get(endpoint: string): DiscretionStatus | undefined {
    return this.statuses.get(endpoint);
  }

  set(endpoint: string, status: DiscretionStatus): void {
    this.statuses.set(endpoint, status);
    for (const listener of this.listeners) listener(endpoint);
  }

  update(endpoint: string, changes: Partial<DiscretionStatus>): void {
    this.set(endpoint, { idle: true, ...this.statuses.get(endpoint), ...changes });
  }

  delete(endpoint: string): void {
    this.statuses.delete(endpoint);
  }

  onChange(listener: (endpoint: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
