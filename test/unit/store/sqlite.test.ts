/** What only a persistent store has: a schema, a file, keys at rest. */
import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { applyMigrations, MigrationError, openDatabase, schemaVersion } from '../../../src/store/sqlite/database.js';
import { MIGRATIONS } from '../../../src/store/sqlite/migrations.js';
import { SqliteStore, SQLITE_FILE_NAME } from '../../../src/store/sqlite/sqlite-store.js';
import { SecretBox, loadOrCreateSecretKey, SecretKeyFileError } from '../../../src/store/secret-box.js';
import { openStore } from '../../../src/store/open-store.js';
import { StoreCorruptError } from '../../../src/store/types.js';
import { registration, tempDir } from './helpers.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));
function dir(): string {
  const t = tempDir();
  cleanups.push(t.remove);
  return t.dir;
}

describe('migrations', () => {
  it('apply once, record the version, and do nothing the second time', () => {
    const file = join(dir(), 'm.sqlite');
    const db = openDatabase(file);
    expect(schemaVersion(db)).toBe(MIGRATIONS[MIGRATIONS.length - 1].version);
    expect(applyMigrations(db)).toEqual([]);
    db.close();
    const again = openDatabase(file);
    expect(applyMigrations(again)).toEqual([]);
    expect((again.prepare('SELECT COUNT(*) AS n FROM schema_version').get() as { n: number }).n).toBe(MIGRATIONS.length);
    expect(again.pragma('journal_mode', { simple: true })).toBe('wal');
    again.close();
  });

  it('apply only the new steps on an older database', () => {
    const file = join(dir(), 'm.sqlite');
    const db = new Database(file);
    const extra = [...MIGRATIONS, { version: MIGRATIONS.length + 1, name: 'extra', sql: 'CREATE TABLE extra (x INTEGER)' }];
    expect(applyMigrations(db, MIGRATIONS)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(applyMigrations(db, extra)).toEqual([MIGRATIONS.length + 1]);
    expect(applyMigrations(db, extra)).toEqual([]);
    db.close();
  });

  it('a failing step leaves no half-applied schema', () => {
    const db = new Database(join(dir(), 'm.sqlite'));
    const broken = [{ version: 1, name: 'broken', sql: 'CREATE TABLE a (x INTEGER); CREATE TABLE a (y INTEGER);' }];
    expect(() => applyMigrations(db, broken)).toThrow();
    expect(schemaVersion(db)).toBe(0);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'a'").get()).toBeUndefined();
    db.close();
  });

  it('refuses a database newer than this server', () => {
    const db = new Database(join(dir(), 'm.sqlite'));
    applyMigrations(db);
    db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (999, ?, 0)').run('future');
    expect(() => applyMigrations(db)).toThrow(MigrationError);
    db.close();
  });
});

describe('persistence across reopen', () => {
  it('keeps registrations and everything else in <data-dir>/lwm2m.sqlite', async () => {
    const dataDir = dir();
    const box = new SecretBox(randomBytes(32));
    const r = registration({ id: 'r1', endpoint: 'dev' });
    let store = SqliteStore.open(dataDir, box);
    await store.registrations.apply([{ op: 'put', registration: r }]);
    await store.audit.append({ at: 1, actor: 'system', action: 'started' });
    await store.close();
    expect(readdirSync(dataDir)).toContain(SQLITE_FILE_NAME);
    store = SqliteStore.open(dataDir, box);
    expect(await store.registrations.loadAll()).toEqual([r]);
    expect((await store.audit.list()).map((e) => e.action)).toEqual(['started']);
    await store.close();
  });

  it('drops an unreadable registration row at load instead of failing the start', async () => {
    const dataDir = dir();
    const store = SqliteStore.open(dataDir, new SecretBox(randomBytes(32)));
    const good = registration({ id: 'ok', endpoint: 'good' });
    await store.registrations.apply([{ op: 'put', registration: good }]);
    store.db.prepare('INSERT INTO registrations (id, endpoint, data) VALUES (?, ?, ?)').run('bad', 'bad', '{"id":"bad"');
    expect(await store.registrations.loadAll()).toEqual([good]);
    expect((store.db.prepare('SELECT COUNT(*) AS n FROM registrations').get() as { n: number }).n).toBe(1);
    await store.close();
  });
});

describe('de-registration written at once (deleteNow)', () => {
  it.each(['thread', 'inline'] as const)('a put still in flight cannot resurrect it (%s writer)', async (registrationWriter) => {
    const dataDir = dir();
    const box = new SecretBox(randomBytes(32));
    let store = SqliteStore.open(dataDir, box, { registrationWriter });
    const r = registration({ id: 'r1', endpoint: 'dev' });
    // The delete reaches the file first, the older put after it (as when the writer thread lags).
    store.registrations.deleteNow('r1');
    await store.registrations.apply([{ op: 'put', registration: r }]);
    expect(await store.registrations.loadAll()).toEqual([]);
    // The delete's own batch ends the tombstone: the id could be used again.
    await store.registrations.apply([{ op: 'delete', id: 'r1' }]);
    expect(store.db.prepare('SELECT COUNT(*) AS n FROM registration_tombstones').get()).toEqual({ n: 0 });
    await store.registrations.apply([{ op: 'put', registration: r }]);
    await store.close();
    store = SqliteStore.open(dataDir, box, { registrationWriter });
    expect(await store.registrations.loadAll()).toEqual([r]);
    await store.close();
  });
});

describe('credentials at rest', () => {
  const pskKey = Buffer.from('5ec2e7a11c0ffee5ec2e7a11c0ffee00', 'hex');
  const privateKey = Buffer.from('ab'.repeat(16) + 'cd'.repeat(16), 'hex');

  it('never writes PSK or private keys in clear, and reads them back with the key', async () => {
    const dataDir = dir();
    const box = new SecretBox(randomBytes(32));
    let store = SqliteStore.open(dataDir, box);
    await store.security.put({ endpoint: 'dev', mode: 'psk', pskIdentity: 'dev-id', pskKey, privateKey });
    await store.bootstrapConfigs.put('dev', { servers: [{ pskKey: pskKey.toString('hex') }] });
    await store.close(); // checkpoints the WAL into the main file
    const bytes = Buffer.concat(readdirSync(dataDir).map((f) => readFileSync(join(dataDir, f))));
    expect(bytes.includes(pskKey)).toBe(false);
    expect(bytes.includes(privateKey)).toBe(false);
    expect(bytes.includes(Buffer.from(pskKey.toString('hex')))).toBe(false);
    expect(bytes.includes(Buffer.from(pskKey.toString('base64')))).toBe(false);
    expect(bytes.includes(Buffer.from('dev-id'))).toBe(true); // the identity is a lookup key, not a secret
    store = SqliteStore.open(dataDir, box);
    expect((await store.security.getByPskIdentity('dev-id'))!.pskKey).toEqual(pskKey);
    await store.close();
  });

  it('a wrong secret key cannot open them', async () => {
    const dataDir = dir();
    let store = SqliteStore.open(dataDir, new SecretBox(randomBytes(32)));
    await store.security.put({ endpoint: 'dev', mode: 'psk', pskIdentity: 'x', pskKey });
    await store.close();
    store = SqliteStore.open(dataDir, new SecretBox(randomBytes(32)));
    await expect(store.security.get('dev')).rejects.toBeInstanceOf(StoreCorruptError);
    await store.close();
  });

  it('a sealed value moved to another endpoint does not open', () => {
    const box = new SecretBox(randomBytes(32));
    const sealed = box.seal(Buffer.from('k'), 'security:a');
    expect(box.open(sealed, 'security:a')).toEqual(Buffer.from('k'));
    expect(() => box.open(sealed, 'security:b')).toThrow(StoreCorruptError);
  });

  it('the secret key file is created once with mode 0600 and reused', () => {
    const file = join(dir(), 'secret.key');
    const first = loadOrCreateSecretKey(file);
    expect(first.created).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const second = loadOrCreateSecretKey(file);
    expect(second).toEqual({ key: first.key, created: false });
  });

  it('refuses a key file readable by others or malformed', () => {
    const file = join(dir(), 'secret.key');
    writeFileSync(file, 'ab'.repeat(32), { mode: 0o644 });
    chmodSync(file, 0o644);
    expect(() => loadOrCreateSecretKey(file)).toThrow(SecretKeyFileError);
    writeFileSync(file, 'not hex', { mode: 0o600 });
    chmodSync(file, 0o600);
    expect(() => loadOrCreateSecretKey(file)).toThrow(/64 hex characters/);
  });

  it('openStore creates <data-dir>/secret.key next to the database', async () => {
    const dataDir = join(dir(), 'nested');
    const store = openStore({ kind: 'sqlite', dataDir });
    expect(store.kind).toBe('sqlite');
    expect(readdirSync(dataDir).sort()).toEqual(expect.arrayContaining(['lwm2m.sqlite', 'secret.key']));
    await store.close();
    expect(openStore({ kind: 'memory', dataDir }).kind).toBe('memory');
  });
});
