/**
 * Security profiles and device pairings (src/firmware/profiles) in SQLite. Rows are JSON;
 * MAC secrets never sit in the JSON: they are sealed (SecretBox, bound to the row) in their
 * own column, like device credentials.
 */
import type { DeviceProfileRecord, DeviceTypePairing, ProfileStore, StoredProfile, TrustedKeySpec } from '../../firmware/profiles/store.js';
import type { SecretBox } from '../secret-box.js';
import type { SqliteDatabase } from './database.js';

interface SealedRow {
  data: string;
  sealed: Buffer | null;
}

const SEED_VERSION = 1;

export class SqliteProfiles implements ProfileStore {
  constructor(
    private readonly db: SqliteDatabase,
    private readonly box: SecretBox,
  ) {}

  async listProfiles(): Promise<StoredProfile[]> {
    const rows = this.db.prepare('SELECT name, data, sealed FROM security_profiles ORDER BY name').all() as Array<SealedRow & { name: string }>;
    return rows.map((row) => {
      const profile = JSON.parse(row.data) as StoredProfile;
      return { ...profile, trustedKeys: this.openKeys(profile.trustedKeys, row.sealed, `profile:${row.name}`) };
    });
  }

  async putProfile(profile: StoredProfile): Promise<void> {
    const { keys, sealed } = this.sealKeys(profile.trustedKeys, `profile:${profile.name}`);
    this.db
      .prepare('INSERT INTO security_profiles (name, data, sealed) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET data = excluded.data, sealed = excluded.sealed')
      .run(profile.name, JSON.stringify({ ...profile, trustedKeys: keys }), sealed);
  }

  async removeProfile(name: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM security_profiles WHERE name = ?').run(name).changes > 0;
  }

  async listDeviceTypes(): Promise<DeviceTypePairing[]> {
    const rows = this.db.prepare('SELECT data FROM profile_device_types ORDER BY device_type').all() as Array<{ data: string }>;
    return rows.map((row) => JSON.parse(row.data) as DeviceTypePairing);
  }

  async putDeviceType(pairing: DeviceTypePairing): Promise<void> {
    this.db
      .prepare('INSERT INTO profile_device_types (device_type, data) VALUES (?, ?) ON CONFLICT (device_type) DO UPDATE SET data = excluded.data')
      .run(pairing.deviceType, JSON.stringify(pairing));
  }

  async removeDeviceType(deviceType: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM profile_device_types WHERE device_type = ?').run(deviceType).changes > 0;
  }

  async listDevices(): Promise<DeviceProfileRecord[]> {
    const rows = this.db.prepare('SELECT endpoint, data, sealed FROM profile_devices ORDER BY endpoint').all() as Array<SealedRow & { endpoint: string }>;
    return rows.map((row) => {
      const record = JSON.parse(row.data) as DeviceProfileRecord;
      return { ...record, keys: this.openKeys(record.keys, row.sealed, `profile-device:${row.endpoint}`) };
    });
  }

  async putDevice(record: DeviceProfileRecord): Promise<void> {
    const { keys, sealed } = this.sealKeys(record.keys, `profile-device:${record.endpoint}`);
    this.db
      .prepare('INSERT INTO profile_devices (endpoint, data, sealed) VALUES (?, ?, ?) ON CONFLICT (endpoint) DO UPDATE SET data = excluded.data, sealed = excluded.sealed')
      .run(record.endpoint, JSON.stringify({ ...record, keys }), sealed);
  }

  async removeDevice(endpoint: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM profile_devices WHERE endpoint = ?').run(endpoint).changes > 0;
  }

  async seedOnce(profiles: readonly StoredProfile[]): Promise<boolean> {
    if (this.db.prepare('SELECT 1 FROM profile_seed WHERE version = ?').get(SEED_VERSION) !== undefined) return false;
    const sealed = profiles.map((profile) => ({ profile, ...this.sealKeys(profile.trustedKeys, `profile:${profile.name}`) }));
    this.db.transaction(() => {
      const put = this.db.prepare('INSERT OR IGNORE INTO security_profiles (name, data, sealed) VALUES (?, ?, ?)');
      for (const { profile, keys, sealed: secret } of sealed) put.run(profile.name, JSON.stringify({ ...profile, trustedKeys: keys }), secret);
      this.db.prepare('INSERT INTO profile_seed (version) VALUES (?)').run(SEED_VERSION);
    })();
    return true;
  }

  /** Secrets leave the JSON; the sealed column holds kid → secret. */
  private sealKeys(keys: readonly TrustedKeySpec[], context: string): { keys: TrustedKeySpec[]; sealed: Buffer | null } {
    const secrets: Record<string, string> = {};
    const clear = keys.map((key) => {
      if (key.secretHex === undefined) return key;
      secrets[key.kid] = key.secretHex;
      return { kid: key.kid, role: key.role };
    });
    const sealed = Object.keys(secrets).length > 0 ? this.box.seal(Buffer.from(JSON.stringify(secrets), 'utf8'), context) : null;
    return { keys: clear, sealed };
  }

  private openKeys(keys: readonly TrustedKeySpec[], sealed: Buffer | null, context: string): TrustedKeySpec[] {
    const secrets = sealed ? (JSON.parse(this.box.open(sealed, context).toString('utf8')) as Record<string, string>) : {};
    return keys.map((key) => (secrets[key.kid] !== undefined ? { ...key, secretHex: secrets[key.kid] } : key));
  }
}
