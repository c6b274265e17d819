/** Firmware deliveries (src/firmware/delivery) in SQLite: one JSON row per delivery, searchable by endpoint, image and state. */
import type { DeliveryRecord } from '../../firmware/delivery/delivery-record.js';
import type { DeliveryStore } from '../../firmware/delivery/delivery-store.js';
import type { SqliteDatabase } from './database.js';

interface DataRow {
  data: string;
}

const ACTIVE = "state NOT IN ('succeeded', 'failed')";

export class SqliteDeliveries implements DeliveryStore {
  constructor(private readonly db: SqliteDatabase) {}

  async put(record: DeliveryRecord): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO firmware_deliveries (id, endpoint, image_id, state, created_at, data) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, data = excluded.data`,
      )
      .run(record.id, record.endpoint, record.imageId, record.state, record.createdAt, JSON.stringify(record));
  }

  async get(id: string): Promise<DeliveryRecord | undefined> {
    const row = this.db.prepare('SELECT data FROM firmware_deliveries WHERE id = ?').get(id) as DataRow | undefined;
    return row && parse(row.data);
  }

  async ofEndpoint(endpoint: string): Promise<DeliveryRecord[]> {
    const rows = this.db.prepare('SELECT data FROM firmware_deliveries WHERE endpoint = ? ORDER BY created_at DESC, id DESC').all(endpoint) as DataRow[];
    return rows.map((row) => parse(row.data));
  }

  async active(): Promise<DeliveryRecord[]> {
    const rows = this.db.prepare(`SELECT data FROM firmware_deliveries WHERE ${ACTIVE} ORDER BY created_at, id`).all() as DataRow[];
    return rows.map((row) => parse(row.data));
  }

  async imageInUse(imageId: string): Promise<boolean> {
    return this.db.prepare(`SELECT 1 FROM firmware_deliveries WHERE image_id = ? AND ${ACTIVE} LIMIT 1`).get(imageId) !== undefined;
  }
}

function parse(text: string): DeliveryRecord {
  const record = JSON.parse(text) as Partial<DeliveryRecord>;
  // JSON has no undefined: restore the optional fields the record type declares.
  return <DeliveryRecord>{ method: undefined, result: undefined, deviceState: undefined, outcome: undefined, reason: undefined, pullToken: undefined, previousVersion: undefined, maxDeferMs: undefined, ...record };
}
