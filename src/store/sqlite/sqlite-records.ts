/** Queued requests, observations, firmware metadata, campaigns and the audit log in SQLite. */
import type { QueuedRequestDescription } from '../../lwm2m/server/request-queue.js';
import { fromStoredJson, toStoredJson } from '../json-codec.js';
import type {
  AuditEntry,
  AuditEntryInput,
  AuditLog,
  AuditQuery,
  Campaign,
  CampaignStore,
  DeviceRolloutState,
  DeviceRolloutWrite,
  FirmwareImageMeta,
  FirmwareImageStore,
  ObservationStore,
  QueuedRequestStore,
  StoredObservation,
  StoredQueuedRequest,
} from '../types.js';
import type { SqliteDatabase } from './database.js';

interface DataRow {
  data: string;
}

export class SqliteQueuedRequests implements QueuedRequestStore {
  constructor(private readonly db: SqliteDatabase) {}

  async append(request: QueuedRequestDescription): Promise<number> {
    const result = this.db.prepare('INSERT INTO queued_requests (endpoint, data) VALUES (?, ?)').run(request.endpoint, toStoredJson(request));
    return Number(result.lastInsertRowid);
  }

  async list(endpoint: string): Promise<StoredQueuedRequest[]> {
    const rows = this.db.prepare('SELECT seq, data FROM queued_requests WHERE endpoint = ? ORDER BY seq').all(endpoint) as Array<DataRow & { seq: number }>;
    return rows.map((row) => ({ ...fromStoredJson<QueuedRequestDescription>(row.data), seq: row.seq }));
  }

  async endpoints(): Promise<string[]> {
    const rows = this.db.prepare('SELECT DISTINCT endpoint FROM queued_requests ORDER BY endpoint').all() as Array<{ endpoint: string }>;
    return rows.map((row) => row.endpoint);
  }

  async remove(seq: number): Promise<boolean> {
    return this.db.prepare('DELETE FROM queued_requests WHERE seq = ?').run(seq).changes > 0;
  }

  async removeEndpoint(endpoint: string): Promise<number> {
    return this.db.prepare('DELETE FROM queued_requests WHERE endpoint = ?').run(endpoint).changes;
  }
}

export class SqliteObservations implements ObservationStore {
  constructor(private readonly db: SqliteDatabase) {}

  async put(observation: StoredObservation): Promise<void> {
    this.db
      .prepare('INSERT INTO observations (id, endpoint, data) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET endpoint = excluded.endpoint, data = excluded.data')
      .run(observation.observationId, observation.endpoint, toStoredJson(observation));
  }

  async get(observationId: string): Promise<StoredObservation | undefined> {
    const row = this.db.prepare('SELECT data FROM observations WHERE id = ?').get(observationId) as DataRow | undefined;
    return row && fromStoredJson<StoredObservation>(row.data);
  }

  async ofEndpoint(endpoint: string): Promise<StoredObservation[]> {
    const rows = this.db.prepare('SELECT data FROM observations WHERE endpoint = ? ORDER BY id').all(endpoint) as DataRow[];
    return rows.map((row) => fromStoredJson<StoredObservation>(row.data));
  }

  async list(): Promise<StoredObservation[]> {
    const rows = this.db.prepare('SELECT data FROM observations ORDER BY id').all() as DataRow[];
    return rows.map((row) => fromStoredJson<StoredObservation>(row.data));
  }

  async remove(observationId: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM observations WHERE id = ?').run(observationId).changes > 0;
  }

  async removeEndpoint(endpoint: string): Promise<number> {
    return this.db.prepare('DELETE FROM observations WHERE endpoint = ?').run(endpoint).changes;
  }
}

export class SqliteFirmwareImages implements FirmwareImageStore {
  constructor(private readonly db: SqliteDatabase) {}

  async put(image: FirmwareImageMeta): Promise<void> {
    this.db
      .prepare('INSERT INTO firmware_images (id, created_at, data) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET created_at = excluded.created_at, data = excluded.data')
      .run(image.id, image.createdAt, JSON.stringify(image));
  }

  async get(id: string): Promise<FirmwareImageMeta | undefined> {
    const row = this.db.prepare('SELECT data FROM firmware_images WHERE id = ?').get(id) as DataRow | undefined;
    return row && (JSON.parse(row.data) as FirmwareImageMeta);
  }

  async list(): Promise<FirmwareImageMeta[]> {
    const rows = this.db.prepare('SELECT data FROM firmware_images ORDER BY created_at, id').all() as DataRow[];
    return rows.map((row) => JSON.parse(row.data) as FirmwareImageMeta);
  }

  async remove(id: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM firmware_images WHERE id = ?').run(id).changes > 0;
  }
}

export class SqliteCampaigns implements CampaignStore {
  constructor(private readonly db: SqliteDatabase) {}

  async put(campaign: Campaign): Promise<void> {
    this.db
      .prepare('INSERT INTO campaigns (id, created_at, data) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET created_at = excluded.created_at, data = excluded.data')
      .run(campaign.id, campaign.createdAt, JSON.stringify(campaign));
  }

  async get(id: string): Promise<Campaign | undefined> {
    const row = this.db.prepare('SELECT data FROM campaigns WHERE id = ?').get(id) as DataRow | undefined;
    return row && (JSON.parse(row.data) as Campaign);
  }

  async list(): Promise<Campaign[]> {
    const rows = this.db.prepare('SELECT data FROM campaigns ORDER BY created_at, id').all() as DataRow[];
    return rows.map((row) => JSON.parse(row.data) as Campaign);
  }

  async remove(id: string): Promise<boolean> {
    return this.db.transaction(() => {
      this.db.prepare('DELETE FROM rollout_states WHERE campaign_id = ?').run(id);
      return this.db.prepare('DELETE FROM campaigns WHERE id = ?').run(id).changes > 0;
    })();
  }

  async getDeviceState(campaignId: string, endpoint: string): Promise<DeviceRolloutState | undefined> {
    const row = this.db.prepare('SELECT data FROM rollout_states WHERE campaign_id = ? AND endpoint = ?').get(campaignId, endpoint) as DataRow | undefined;
    return row && (JSON.parse(row.data) as DeviceRolloutState);
  }

  async listDeviceStates(campaignId: string): Promise<DeviceRolloutState[]> {
    const rows = this.db.prepare('SELECT data FROM rollout_states WHERE campaign_id = ? ORDER BY endpoint').all(campaignId) as DataRow[];
    return rows.map((row) => JSON.parse(row.data) as DeviceRolloutState);
  }

  async setDeviceState(
    campaignId: string,
    endpoint: string,
    state: DeviceRolloutWrite,
    expectedRevision: number,
  ): Promise<DeviceRolloutState | undefined> {
    const next: DeviceRolloutState = { campaignId, endpoint, phase: state.phase, updatedAt: state.updatedAt, data: state.data, revision: expectedRevision + 1 };
    const text = JSON.stringify(next);
    // One statement each way, so the compare and the set cannot be split by another writer.
    const changes =
      expectedRevision === 0
        ? this.db
            .prepare('INSERT INTO rollout_states (campaign_id, endpoint, revision, data) VALUES (?, ?, 1, ?) ON CONFLICT DO NOTHING')
            .run(campaignId, endpoint, text).changes
        : this.db
            .prepare('UPDATE rollout_states SET revision = ?, data = ? WHERE campaign_id = ? AND endpoint = ? AND revision = ?')
            .run(next.revision, text, campaignId, endpoint, expectedRevision).changes;
    return changes === 1 ? next : undefined;
  }
}

export class SqliteAuditLog implements AuditLog {
  constructor(private readonly db: SqliteDatabase) {}

  async append(entry: AuditEntryInput): Promise<number> {
    const result = this.db.prepare('INSERT INTO audit_log (subject, data) VALUES (?, ?)').run(entry.subject ?? null, JSON.stringify(entry));
    return Number(result.lastInsertRowid);
  }

  async list(query: AuditQuery = {}): Promise<AuditEntry[]> {
    const after = query.afterSeq ?? 0;
    const limit = query.limit ?? 100;
    const rows = (
      query.subject === undefined
        ? this.db.prepare('SELECT seq, data FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?').all(after, limit)
        : this.db.prepare('SELECT seq, data FROM audit_log WHERE subject = ? AND seq > ? ORDER BY seq LIMIT ?').all(query.subject, after, limit)
    ) as Array<DataRow & { seq: number }>;
    return rows.map((row) => ({ ...(JSON.parse(row.data) as AuditEntryInput), seq: row.seq }));
  }
}
