import { join } from 'node:path';
import type { Logger } from '../../util/logger.js';
import type { SecretBox } from '../secret-box.js';
import type { Store } from '../types.js';
import { openDatabase, type SqliteDatabase } from './database.js';
import { SqliteRegistrations } from './sqlite-registrations.js';
import { WorkerRegistrationWriter } from './registration-writer.js';
import { SqliteAuditLog, SqliteCampaigns, SqliteFirmwareImages, SqliteObservations, SqliteQueuedRequests } from './sqlite-records.js';
import { SqliteBootstrapConfigs, SqliteSecurity } from './sqlite-security.js';
import { SqliteDeviceTags } from './sqlite-device-tags.js';

export const SQLITE_FILE_NAME = 'lwm2m.sqlite';

export interface SqliteStoreOptions {
  logger?: Logger;
  /**
   * 'thread' (default): registration batches are written by a worker thread, keeping the
   * registration hot path free of SQLite time; 'inline': on the caller's thread.
   */
  registrationWriter?: 'thread' | 'inline';
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly registrations: SqliteRegistrations;
  readonly security: SqliteSecurity;
  readonly bootstrapConfigs: SqliteBootstrapConfigs;
  readonly queuedRequests: SqliteQueuedRequests;
  readonly observations: SqliteObservations;
  readonly firmwareImages: SqliteFirmwareImages;
  readonly campaigns: SqliteCampaigns;
  readonly audit: SqliteAuditLog;
  /** Operator tags of devices (rollout targeting). */
  readonly deviceTags: SqliteDeviceTags;
  private readonly writer: WorkerRegistrationWriter | undefined;
  private closed = false;

  /** Opens `<dataDir>/lwm2m.sqlite`, migrating it to the current schema. */
  static open(dataDir: string, box: SecretBox, options: SqliteStoreOptions = {}): SqliteStore {
    const file = join(dataDir, SQLITE_FILE_NAME);
    const db = openDatabase(file);
    // Started after the migrations, so the thread never sees an old schema.
    const writer = options.registrationWriter === 'inline' ? undefined : new WorkerRegistrationWriter(file);
    return new SqliteStore(db, box, options.logger, writer);
  }

  constructor(
    readonly db: SqliteDatabase,
    box: SecretBox,
    logger?: Logger,
    writer?: WorkerRegistrationWriter,
  ) {
    this.writer = writer;
    this.registrations = new SqliteRegistrations(db, logger, writer);
    this.security = new SqliteSecurity(db, box);
    this.bootstrapConfigs = new SqliteBootstrapConfigs(db, box);
    this.queuedRequests = new SqliteQueuedRequests(db);
    this.observations = new SqliteObservations(db);
    this.firmwareImages = new SqliteFirmwareImages(db);
    this.campaigns = new SqliteCampaigns(db);
    this.audit = new SqliteAuditLog(db);
    this.deviceTags = new SqliteDeviceTags(db);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writer?.close();
    this.db.close();
  }
}
