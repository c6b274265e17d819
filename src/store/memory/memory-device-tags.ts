/** Device tags in memory (the memory store's kind: nothing survives a restart). */
import type { DeviceTagStore } from '../types.js';

export class MemoryDeviceTags implements DeviceTagStore {
  private readonly tags = new Map<string, string[]>();

  async list(): Promise<Array<{ endpoint: string; tags: string[] }>> {
    return [...this.tags].map(([endpoint, tags]) => ({ endpoint, tags: [...tags] }));
  }

  async set(endpoint: string, tags: readonly string[]): Promise<void> {
    if (tags.length === 0) this.tags.delete(endpoint);
    else this.tags.set(endpoint, [...tags]);
  }
}
