import { fromStoredJson, toStoredJson } from '../json-codec.js';
import type { SecretBox } from '../secret-box.js';
import { summarize } from '../security-summary.js';
import {
  StoreConflictError,
  type BootstrapConfigStore,
  type JsonObject,
  type SecurityInfo,
  type SecurityInfoSummary,
  type SecurityStore,
} from '../types.js';
import type { SqliteDatabase } from './database.js';

/** Security info: the whole record sealed; identity and summary in clear for lookups and listings. */
export class SqliteSecurity implements SecurityStore {
  constructor(
    private readonly db: SqliteDatabase,
    private readonly box: SecretBox,
  ) {}

  async put(info: SecurityInfo): Promise<void> {
    const sealed = this.box.seal(Buffer.from(toStoredJson(info), 'utf8'), context(info.endpoint));
    const identity = info.pskIdentity ?? null;
    this.db.transaction(() => {
      if (identity !== null) {
        const owner = this.db
          .prepare('SELECT endpoint FROM security WHERE psk_identity = ? AND endpoint <> ?')
          .get(identity, info.endpoint) as { endpoint: string } | undefined;
        if (owner) throw new StoreConflictError(`PSK identity "${identity}" already belongs to endpoint "${owner.endpoint}"`);
      }
      this.db
        .prepare(
          `INSERT INTO security (endpoint, psk_identity, summary, sealed) VALUES (?, ?, ?, ?)
           ON CONFLICT (endpoint) DO UPDATE SET psk_identity = excluded.psk_identity, summary = excluded.summary, sealed = excluded.sealed`,
        )
        .run(info.endpoint, identity, JSON.stringify(summarize(info)), sealed);
    })();
  }

  async get(endpoint: string): Promise<SecurityInfo | undefined> {
    const row = this.db.prepare('SELECT endpoint, sealed FROM security WHERE endpoint = ?').get(endpoint) as SealedRow | undefined;
    return row && this.open(row);
  }

  async getByPskIdentity(identity: string): Promise<SecurityInfo | undefined> {
    const row = this.db.prepare('SELECT endpoint, sealed FROM security WHERE psk_identity = ?').get(identity) as SealedRow | undefined;
    return row && this.open(row);
  }

  async remove(endpoint: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM security WHERE endpoint = ?').run(endpoint).changes > 0;
  }

  async list(): Promise<SecurityInfoSummary[]> {
    const rows = this.db.prepare('SELECT summary FROM security ORDER BY endpoint').all() as Array<{ summary: string }>;
    return rows.map((row) => JSON.parse(row.summary) as SecurityInfoSummary);
  }

  private open(row: SealedRow): SecurityInfo {
    return fromStoredJson<SecurityInfo>(this.box.open(row.sealed, context(row.endpoint)).toString('utf8'));
  }
}

/** Bootstrap configurations carry PSK keys for the devices, so the whole configuration is sealed. */
export class SqliteBootstrapConfigs implements BootstrapConfigStore {
  constructor(
    private readonly db: SqliteDatabase,
    private readonly box: SecretBox,
  ) {}

  async get(endpoint: string): Promise<JsonObject | undefined> {
    const row = this.db.prepare('SELECT endpoint, sealed FROM bootstrap_configs WHERE endpoint = ?').get(endpoint) as SealedRow | undefined;
    return row && this.open(row);
  }

  async put(endpoint: string, config: JsonObject): Promise<void> {
    const sealed = this.box.seal(Buffer.from(JSON.stringify(config), 'utf8'), bootstrapContext(endpoint));
    this.db
      .prepare('INSERT INTO bootstrap_configs (endpoint, sealed) VALUES (?, ?) ON CONFLICT (endpoint) DO UPDATE SET sealed = excluded.sealed')
      .run(endpoint, sealed);
  }

  async remove(endpoint: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM bootstrap_configs WHERE endpoint = ?').run(endpoint).changes > 0;
  }

  async list(): Promise<Array<{ endpoint: string; config: JsonObject }>> {
    const rows = this.db.prepare('SELECT endpoint, sealed FROM bootstrap_configs ORDER BY endpoint').all() as SealedRow[];
    return rows.map((row) => ({ endpoint: row.endpoint, config: this.open(row) }));
  }

  private open(row: SealedRow): JsonObject {
    return JSON.parse(this.box.open(row.sealed, bootstrapContext(row.endpoint)).toString('utf8')) as JsonObject;
  }
}

interface SealedRow {
  endpoint: string;
  sealed: Buffer;
}

const context = (endpoint: string) => `security:${endpoint}`;
const bootstrapContext = (endpoint: string) => `bootstrap:${endpoint}`;
