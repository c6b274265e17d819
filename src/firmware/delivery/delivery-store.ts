/**
 * Where delivery records live across restarts. Defined here (not in src/store/types.ts)
 * because the delivery is this module's table; SQLite implements it in
 * src/store/sqlite/sqlite-deliveries.ts, and this in-memory one serves tests and the
 * memory store.
 */
import type { DeliveryRecord } from './delivery-record.js';

export interface DeliveryStore {
  put(record: DeliveryRecord): Promise<void>;
  get(id: string): Promise<DeliveryRecord | undefined>;
  /** The endpoint's deliveries, newest first. */
  ofEndpoint(endpoint: string): Promise<DeliveryRecord[]>;
  /** Every delivery not yet succeeded or failed (resumed after a restart). */
  active(): Promise<DeliveryRecord[]>;
  /** Whether any unfinished delivery uses the image (an image in use cannot be deleted). */
  imageInUse(imageId: string): Promise<boolean>;
}

const isActive = (record: DeliveryRecord): boolean => record.state !== 'succeeded' && record.state !== 'failed';

export class MemoryDeliveryStore implements DeliveryStore {
  private readonly records = new Map<string, DeliveryRecord>();
  /** Record ids by endpoint: the API asks per endpoint, and a fleet has thousands of records. */
  private readonly idsByEndpoint = new Map<string, Set<string>>();

  async put(record: DeliveryRecord): Promise<void> {
    this.records.set(record.id, copyRecord(record));
    let ids = this.idsByEndpoint.get(record.endpoint);
    if (ids === undefined) this.idsByEndpoint.set(record.endpoint, (ids = new Set()));
    ids.add(record.id);
  }

  async get(id: string): Promise<DeliveryRecord | undefined> {
    const record = this.records.get(id);
    return record && copyRecord(record);
  }

  async ofEndpoint(endpoint: string): Promise<DeliveryRecord[]> {
    return [...(this.idsByEndpoint.get(endpoint) ?? [])]
      .map((id) => this.records.get(id)!)
      .sort((a, b) => b.createdAt - a.createdAt || b.id.localeCompare(a.id))
      .map((record) => copyRecord(record));
  }

  async active(): Promise<DeliveryRecord[]> {
    return [...this.records.values()].filter(isActive).map((record) => copyRecord(record));
  }

  async imageInUse(imageId: string): Promise<boolean> {
    for (const record of this.records.values()) if (record.imageId === imageId && isActive(record)) return true;
    return false;
  }
}

/**
 * A copy the caller cannot change the stored record through: every field is a primitive but
 * the history, whose entries are flat. (structuredClone cost more than the rest of a state
 * transition, and a delivery makes a dozen of them, a fleet of a thousand at once.)
 */
function copyRecord(record: DeliveryRecord): DeliveryRecord {
  return { ...record, history: record.history.map((entry) => ({ ...entry })) };
}
