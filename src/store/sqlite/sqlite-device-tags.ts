/** Device tags (rollout targeting) in SQLite: one row per tagged endpoint, the tags as a JSON array. */
import type { DeviceTagStore } from '../types.js';
import type { SqliteDatabase } from './database.js';

export class SqliteDeviceTags implements DeviceTagStore {
  constructor(private readonly db: SqliteDatabase) {}

  async list(): Promise<Array<{ endpoint: string; tags: string[] }>> {
    const rows = this.db.prepare('SELECT endpoint, tags FROM device_tags ORDER BY endpoint').all() as Array<{ endpoint: string; tags: string }>;
    return rows.map((row) => ({ endpoint: row.endpoint, tags: JSON.parse(row.tags) as string[] }));
  }

  async set(endpoint: string, tags: readonly string[]): Promise<void> {
    if (tags.length === 0) {
      this.db.prepare('DELETE FROM device_tags WHERE endpoint = ?').run(endpoint);
      return;
    }
    this.db
      .prepare('INSERT INTO device_tags (endpoint, tags) VALUES (?, ?) ON CONFLICT (endpoint) DO UPDATE SET tags = excluded.tags')
      .run(endpoint, JSON.stringify(tags));
  }
}
