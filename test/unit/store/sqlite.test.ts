/** What only a persistent store has: a schema, a file, keys at rest. */
import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { applyMigrations, MigrationError, NEW_DATABASE_PAGE_SIZE, openDatabase, schemaVersion } from '../../../src/store/sqlite/database.js';
import { MIGRATIONS } from '../../../src/store/sqlite/migrations.js';
import { SqliteStore, SQLITE_FILE_NAME } from '../../../src/store/sqlite/sqlite-store.js';
import { SecretBox, loadOrCreateSecretKey, SecretKeyFileError } from '../../../src/store/secret-box.js';
import { openStore } from '../../../src/store/open-store.js';
import { StoreCorruptError } from '../../../src/store/types.js';
import { encodeRegistration, ROW } from '../../../src/store/registration-codec.js';
import { SqliteRegistrations } from '../../../src/store/sqlite/sqlite-registrations.js';
import { registrationBatchWriter } from '../../../src/store/sqlite/registration-sql.js';
import type { RegistrationBatch } from '../../../src/store/sqlite/registration-batch.js';
import { parseObjectLinks } from '../../../src/lwm2m/server/object-links.js';
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

  it('a new file gets 16 KiB pages; an existing file keeps its page size and is still brought up to date', () => {
    const fresh = openDatabase(join(dir(), 'new.sqlite'));
    expect(fresh.pragma('page_size', { simple: true })).toBe(NEW_DATABASE_PAGE_SIZE);
    fresh.close();
    const file = join(dir(), 'old.sqlite');
    const old = new Database(file);
    old.pragma('page_size = 4096');
    old.pragma('journal_mode = WAL');
    applyMigrations(old, MIGRATIONS.filter((m) => m.version <= 6));
    old.close();
    const reopened = openDatabase(file);
    expect(reopened.pragma('page_size', { simple: true })).toBe(4096);
    expect(schemaVersion(reopened)).toBe(MIGRATIONS[MIGRATIONS.length - 1].version);
    reopened.close();
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

  it('stores rows as binary JSON that json() renders as the row array', async () => {
    const dataDir = dir();
    const store = SqliteStore.open(dataDir, new SecretBox(randomBytes(32)));
    const good = registration({ id: 'ok', endpoint: 'good' });
    await store.registrations.apply([{ op: 'put', registration: good }]);
    expect(store.db.prepare("SELECT typeof(data) FROM registrations WHERE endpoint = 'good'").pluck().get()).toBe('blob');
    const row = JSON.parse(store.db.prepare("SELECT json(data) FROM registrations WHERE endpoint = 'good'").pluck().get() as string) as unknown[];
    expect(row[ROW.id]).toBe('ok');
    expect(await store.registrations.loadAll()).toEqual([good]);
    await store.close();
  });

  it('drops an unreadable registration row at load instead of failing the start', async () => {
    const dataDir = dir();
    const store = SqliteStore.open(dataDir, new SecretBox(randomBytes(32)));
    const good = registration({ id: 'ok', endpoint: 'good' });
    await store.registrations.apply([{ op: 'put', registration: good }]);
    const insert = store.db.prepare('INSERT INTO registrations (endpoint, data) VALUES (?, ?)');
    insert.run('bad', '["bad"');
    insert.run('short', '["short","s1",300]');
    // Bytes that are not SQLite's binary JSON, where a JSONB row would be.
    insert.run('blob', Buffer.from([0xff, 0x00, 0x13, 0x37]));
    // A row that names a link set the table does not hold.
    const orphan = JSON.parse(encodeRegistration(registration({ id: 'o1', endpoint: 'orphan' }))) as unknown[];
    orphan[ROW.links] = 999;
    insert.run('orphan', JSON.stringify(orphan));
    expect(await store.registrations.loadAll()).toEqual([good]);
    expect(store.db.prepare('SELECT endpoint FROM registrations').all()).toEqual([{ endpoint: 'good' }]);
    await store.close();
  });

  it('stores each link set once, numbered, and forgets the sets no device uses any more', async () => {
    const dataDir = dir();
    const box = new SecretBox(randomBytes(32));
    const typeB = parseObjectLinks('</1/0>,</3/0>,</3303/0>,</3303/1>');
    let store = SqliteStore.open(dataDir, box);
    const rows = [
      ...Array.from({ length: 50 }, (_, i) => registration({ id: `a${i}`, endpoint: `a-${i}` })),
      registration({ id: 'b0', endpoint: 'b-0', objectLinks: typeB.objectLinks }),
    ];
    await store.registrations.apply(rows.map((r) => ({ op: 'put' as const, registration: r })));
    const links = () => store.db.prepare('SELECT links FROM registration_links ORDER BY id').pluck().all();
    expect(links()).toEqual(['</>;rt="oma.lwm2m";ct=110,</1/0>,</3/0>,</5>;ver=1.1', '</1/0>,</3/0>,</3303/0>,</3303/1>']);
    // Rows name their set by number: no link text in them.
    const data = store.db.prepare('SELECT json(data) FROM registrations').pluck().all() as string[];
    expect(data.filter((d) => d.includes('</'))).toEqual([]);
    await store.registrations.apply([{ op: 'delete', endpoint: 'b-0' }]);
    await store.close();
    store = SqliteStore.open(dataDir, box);
    expect((await store.registrations.loadAll()).length).toBe(50);
    expect(links()).toEqual(['</>;rt="oma.lwm2m";ct=110,</1/0>,</3/0>,</5>;ver=1.1']);
    // A new device of the forgotten type gets its set back.
    const again = registration({ id: 'b1', endpoint: 'b-1', objectLinks: typeB.objectLinks });
    await store.registrations.apply([{ op: 'put', registration: again }]);
    await store.close();
    store = SqliteStore.open(dataDir, box);
    expect((await store.registrations.loadAll()).find((r) => r.endpoint === 'b-1')).toEqual(again);
    await store.close();
  });
});

describe('migration 5: registrations keyed by endpoint', () => {
  it('converts rows of the old layout, drops what does not convert, and runs once', async () => {
    const dataDir = dir();
    const file = join(dataDir, SQLITE_FILE_NAME);
    const old = new Database(file);
    applyMigrations(old, MIGRATIONS.filter((m) => m.version <= 4));
    const insert = old.prepare('INSERT INTO registrations (id, endpoint, data) VALUES (?, ?, ?)');
    const links = '</>;rt="oma.lwm2m";ct=110,</1/0>,</3/0>,</5>;ver=1.1';
    const stored = (id: string, endpoint: string, extra: object) =>
      JSON.stringify({ id, endpoint, lifetimeSec: 300, lwm2mVersion: '1.1', binding: 'U', queueMode: false, address: { address: '127.0.0.1', port: 40000 },
        rootPath: '/', links, registeredAt: 1_700_000_000_000, lastUpdateAt: 1_700_000_000_000, expiresAt: 1_700_000_300_000, ...extra });
    insert.run('r1', 'dev-1', stored('r1', 'dev-1', {}));
    insert.run('r2', 'dev-2', stored('r2', 'dev-2', { smsNumber: '+4912345', queueMode: true, binding: 'UQ', lastUpdateAt: 1_700_000_050_000, expiresAt: 1_700_000_350_000 }));
    insert.run('bad', 'dev-bad', '{"id":"bad"');
    insert.run('partial', 'dev-partial', '{"id":"partial"}');
    old.prepare('INSERT INTO registration_tombstones (id) VALUES (?)').run('r9');
    old.close();

    const box = new SecretBox(randomBytes(32));
    let store = SqliteStore.open(dataDir, box);
    expect(schemaVersion(store.db)).toBe(MIGRATIONS[MIGRATIONS.length - 1].version);
    const expected = [
      registration({ id: 'r1', endpoint: 'dev-1' }),
      registration({ id: 'r2', endpoint: 'dev-2', smsNumber: '+4912345', queueMode: true, binding: 'UQ', lastUpdateAt: 1_700_000_050_000, expiresAt: 1_700_000_350_000 }),
    ];
    expect((await store.registrations.loadAll()).sort((a, b) => a.id.localeCompare(b.id))).toEqual(expected);
    expect(store.db.prepare('SELECT endpoint FROM registrations ORDER BY endpoint').pluck().all()).toEqual(['dev-1', 'dev-2']);
    await store.close();
    store = SqliteStore.open(dataDir, box);
    expect(applyMigrations(store.db)).toEqual([]);
    expect((await store.registrations.loadAll()).sort((a, b) => a.id.localeCompare(b.id))).toEqual(expected);
    await store.close();
  });
});

describe('migration 7: registration time base', () => {
  it('keeps rows of version 6 (absolute registeredAt) and stores new rows as offsets from the batch base', async () => {
    const dataDir = dir();
    const file = join(dataDir, SQLITE_FILE_NAME);
    const old = new Database(file);
    applyMigrations(old, MIGRATIONS.filter((m) => m.version <= 6));
    const before = registration({ id: 'r1', endpoint: 'dev-old', lastUpdateAt: 1_700_000_060_000, expiresAt: 1_700_000_360_000 });
    old.prepare('INSERT INTO registrations (endpoint, data) VALUES (?, ?)').run('dev-old', encodeRegistration(before));
    old.close();

    const box = new SecretBox(randomBytes(32));
    let store = SqliteStore.open(dataDir, box);
    expect(applyMigrations(store.db)).toEqual([]);
    expect(await store.registrations.loadAll()).toEqual([before]);
    const fresh = registration({ id: 'r2', endpoint: 'dev-new', registeredAt: 1_800_000_000_000, lastUpdateAt: 1_800_000_000_000, expiresAt: 1_800_000_300_000 });
    const updated = registration({ id: 'r3', endpoint: 'dev-upd', lastUpdateAt: 1_800_000_000_500, expiresAt: 1_800_000_300_500 });
    await store.registrations.apply([{ op: 'put', registration: fresh }, { op: 'put', registration: updated }]);
    const stored = store.db
      .prepare('SELECT endpoint, time_base AS base, data ->> ? AS offset FROM registrations ORDER BY endpoint')
      .all(`$[${ROW.registeredAt}]`);
    expect(stored).toEqual([
      { endpoint: 'dev-new', base: 1_800_000_000_000, offset: 0 },
      { endpoint: 'dev-old', base: 0, offset: 1_700_000_000_000 },
      { endpoint: 'dev-upd', base: 1_800_000_000_000, offset: 1_700_000_000_000 - 1_800_000_000_000 },
    ]);
    await store.close();
    store = SqliteStore.open(dataDir, box);
    expect((await store.registrations.loadAll()).sort((a, b) => a.id.localeCompare(b.id))).toEqual([before, fresh, updated]);
    await store.close();
  });
});

describe('de-registration written at once (deleteNow)', () => {
  it.each(['thread', 'inline'] as const)('a put handed over before it cannot resurrect it (%s writer)', async (registrationWriter) => {
    const dataDir = dir();
    const box = new SecretBox(randomBytes(32));
    let store = SqliteStore.open(dataDir, box, { registrationWriter });
    const r = registration({ id: 'r1', endpoint: 'dev' });
    const inFlight = store.registrations.apply([{ op: 'put', registration: r }]);
    store.registrations.deleteNow('dev');
    await inFlight;
    expect(await store.registrations.loadAll()).toEqual([]);
    // The batch after the de-registration ends the tombstone: the device may come back.
    await store.registrations.apply([{ op: 'delete', endpoint: 'dev' }]);
    expect(store.db.prepare('SELECT COUNT(*) AS n FROM registration_tombstones').get()).toEqual({ n: 0 });
    await store.registrations.apply([{ op: 'put', registration: r }]);
    await store.close();
    store = SqliteStore.open(dataDir, box, { registrationWriter });
    expect(await store.registrations.loadAll()).toEqual([r]);
    await store.close();
  });

  it('with a writer that lags: older puts are skipped, a re-registration after it is kept', async () => {
    const file = join(dir(), 'lag.sqlite');
    const db = openDatabase(file);
    const writer = new HeldWriter(openDatabase(file));
    const registrations = new SqliteRegistrations(db, undefined, writer);
    const before = registration({ id: 'r1', endpoint: 'dev', address: { address: '10.0.0.1', port: 1 } });
    const other = registration({ id: 'o1', endpoint: 'other' });
    const first = registrations.apply([{ op: 'put', registration: before }, { op: 'put', registration: other }]);
    registrations.deleteNow('dev'); // the de-registration: on disk while batch 1 still waits
    expect(db.prepare('SELECT endpoint, seq FROM registration_tombstones').all()).toEqual([{ endpoint: 'dev', seq: 2 }]);
    const back = registration({ id: 'r2', endpoint: 'dev', address: { address: '10.0.0.2', port: 2 } });
    const second = registrations.apply([{ op: 'put', registration: back }]);
    // Batch 1 lands; a kill now must not find the de-registered device on disk.
    writer.release(1);
    await first;
    expect(await registrations.loadAll()).toEqual([other]);
    expect(db.prepare('SELECT COUNT(*) AS n FROM registration_tombstones').get()).toEqual({ n: 1 });
    writer.release();
    await second;
    expect((await registrations.loadAll()).sort((a, b) => a.id.localeCompare(b.id))).toEqual([other, back]);
    expect(db.prepare('SELECT COUNT(*) AS n FROM registration_tombstones').get()).toEqual({ n: 0 });
    writer.close();
    db.close();
  });

  it('a long batch travels to the writer thread as bytes and is stored like text; a tombstone still stops its puts', async () => {
    const dataDir = dir();
    const box = new SecretBox(randomBytes(32));
    const store = SqliteStore.open(dataDir, box, { registrationWriter: 'thread' });
    const many = Array.from({ length: 600 }, (_, i) => registration({ id: `r${i}`, endpoint: `dev-${i}`, address: { address: '10.0.0.1', port: i } }));
    await store.registrations.apply(many.map((r) => ({ op: 'put' as const, registration: r })));
    expect((await store.registrations.loadAll()).sort((a, b) => a.address.port - b.address.port)).toEqual(many);
    await store.close();

    // The same steps as bytes through the batch writer, with dev-7 de-registered after they were handed over.
    const db = openDatabase(join(dir(), 'bytes.sqlite'));
    const registrations = new SqliteRegistrations(db, undefined, new HeldWriter(db));
    db.prepare('INSERT INTO registration_tombstones (endpoint, seq) VALUES (?, ?)').run('dev-7', 2);
    const rows = JSON.stringify(many.slice(0, 10).map((r) => [r.endpoint, r.id, r.lifetimeSec, r.lwm2mVersion, r.binding, 0, null, r.address.address, r.address.port, r.rootPath, 'links-x', 0, 0, 300_000]));
    const write = registrationBatchWriter(db);
    write({ seq: 1, timeBase: 1_700_000_000_000, links: [], steps: [Buffer.from(rows.replaceAll('"links-x"', JSON.stringify('</1/0>')), 'utf8')] });
    const loaded = (await registrations.loadAll()).map((r) => r.endpoint).sort();
    expect(loaded).toEqual(many.slice(0, 10).map((r) => r.endpoint).filter((e) => e !== 'dev-7').sort());
    db.close();
  });

  it('a de-registration removes the stored registration even when memory had replaced it since', async () => {
    const file = join(dir(), 'replaced.sqlite');
    const db = openDatabase(file);
    const registrations = new SqliteRegistrations(db);
    await registrations.apply([{ op: 'put', registration: registration({ id: 'r1', endpoint: 'dev' }) }]);
    // r2 replaced r1 in memory and was de-registered before any flush: the row still holds r1.
    registrations.deleteNow('dev');
    expect(await registrations.loadAll()).toEqual([]);
    db.close();
  });
});

/** A real second connection that writes the batches it was given only when released. */
class HeldWriter {
  private readonly held: Array<{ batch: RegistrationBatch; done: () => void }> = [];
  private readonly writeBatch: (batch: RegistrationBatch) => void;
  constructor(private readonly db: Database.Database) {
    this.writeBatch = registrationBatchWriter(db);
  }
  write(batch: RegistrationBatch): Promise<void> {
    return new Promise((done) => this.held.push({ batch, done }));
  }
  /** Writes the first `count` held batches (all by default). */
  release(count = this.held.length): void {
    for (const { batch, done } of this.held.splice(0, count)) {
      this.writeBatch(batch);
      done();
    }
  }
  close(): void {
    this.db.close();
  }
}

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
