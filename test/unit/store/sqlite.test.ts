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
import { encodeRegistration, linksToText, ROW } from '../../../src/store/registration-codec.js';
import type { Registration } from '../../../src/lwm2m/server/registration.js';
import { SqliteRegistrations } from '../../../src/store/sqlite/sqlite-registrations.js';
import { registrationBatchWriter } from '../../../src/store/sqlite/registration-sql.js';
import type { RegistrationBatch } from '../../../src/store/sqlite/registration-batch.js';
import { parseObjectLinks } from '../../../src/lwm2m/server/object-links.js';
import { registration, tempDir } from './helpers.js';

/** A row as schema 5 to 7 stored it: 13 fields, links inline. */
function legacyRow(r: Registration): string {
  return JSON.stringify([r.id, r.lifetimeSec, r.lwm2mVersion, r.binding, r.queueMode ? 1 : 0, r.smsNumber ?? null, r.address.address, r.address.port,
    r.rootPath, linksToText(r.objectLinks), r.registeredAt, r.lastUpdateAt - r.registeredAt, r.expiresAt - r.lastUpdateAt]);
}

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
    await store.registrations.apply([r]);
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
    await store.registrations.apply([good]);
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
    await store.registrations.apply([good]);
    const insert = store.db.prepare('INSERT INTO registrations (endpoint, data) VALUES (?, ?)');
    insert.run('bad', '["bad"');
    insert.run('short', '["short","s1",300]');
    // Bytes that are not SQLite's binary JSON, where a JSONB row would be.
    insert.run('blob', Buffer.from([0xff, 0x00, 0x13, 0x37]));
    // A row that names a link set the table does not hold.
    const orphan = JSON.parse(encodeRegistration(registration({ id: 'o1', endpoint: 'orphan' }))) as unknown[];
    orphan[ROW.shape] = 999;
    insert.run('orphan', JSON.stringify(orphan));
    // A shape whose link set the table does not hold.
    store.db.prepare('INSERT INTO registration_shapes (id, shape) VALUES (?, ?)').run(77, '[300,"1.1","U",0,null,"/",998]');
    orphan[ROW.shape] = 77;
    insert.run('orphan-links', JSON.stringify(orphan));
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
    await store.registrations.apply(rows);
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
    await store.registrations.apply([again]);
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
    old.prepare('INSERT INTO registrations (endpoint, data) VALUES (?, ?)').run('dev-old', legacyRow(before));
    old.close();

    const box = new SecretBox(randomBytes(32));
    let store = SqliteStore.open(dataDir, box);
    expect(applyMigrations(store.db)).toEqual([]);
    expect(await store.registrations.loadAll()).toEqual([before]);
    const fresh = registration({ id: 'r2', endpoint: 'dev-new', registeredAt: 1_800_000_000_000, lastUpdateAt: 1_800_000_000_000, expiresAt: 1_800_000_300_000 });
    const updated = registration({ id: 'r3', endpoint: 'dev-upd', lastUpdateAt: 1_800_000_000_500, expiresAt: 1_800_000_300_500 });
    await store.registrations.apply([fresh, updated]);
    const stored = store.db
      // The old row keeps its 13-field form, registeredAt at index 10.
      .prepare('SELECT endpoint, time_base AS base, CASE WHEN json_array_length(data) = 13 THEN data ->> 10 ELSE data ->> ? END AS offset FROM registrations ORDER BY endpoint')
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

describe('migration 8: registration shapes', () => {
  it('keeps rows of version 7 (13 fields, links numbered or inline) and their link sets; new rows name a shape', async () => {
    const dataDir = dir();
    const old = new Database(join(dataDir, SQLITE_FILE_NAME));
    applyMigrations(old, MIGRATIONS.filter((m) => m.version <= 7));
    const numbered = registration({ id: 'r1', endpoint: 'dev-numbered', smsNumber: '+4912345', queueMode: true, binding: 'UQ' });
    const inline = registration({ id: 'r2', endpoint: 'dev-inline', lastUpdateAt: 1_700_000_060_000, expiresAt: 1_700_000_360_000 });
    old.prepare('INSERT INTO registration_links (id, links) VALUES (?, ?)').run(5, linksToText(numbered.objectLinks));
    const insert = old.prepare('INSERT INTO registrations (endpoint, data, time_base) VALUES (?, jsonb(?), ?)');
    const row = JSON.parse(legacyRow(numbered)) as unknown[];
    row[9] = 5;
    row[10] = -1000;
    insert.run('dev-numbered', JSON.stringify(row), 1_700_000_001_000);
    insert.run('dev-inline', legacyRow(inline), 0);
    old.close();

    const box = new SecretBox(randomBytes(32));
    let store = SqliteStore.open(dataDir, box);
    const byId = (rs: Registration[]) => rs.sort((a, b) => a.id.localeCompare(b.id));
    expect(byId(await store.registrations.loadAll())).toEqual([numbered, inline]);
    const fresh = registration({ id: 'r3', endpoint: 'dev-new', smsNumber: '+4912345', queueMode: true, binding: 'UQ' });
    await store.registrations.apply([fresh]);
    expect(store.db.prepare("SELECT json(data) FROM registrations WHERE endpoint = 'dev-new'").pluck().get()).toBe('["r3","127.0.0.1",40000,1,0,0]');
    expect(store.db.prepare('SELECT id, shape FROM registration_shapes').raw().all()).toEqual([[1, '[300,"1.1","UQ",1,"+4912345","/",5]']]);
    await store.close();
    store = SqliteStore.open(dataDir, box);
    expect(applyMigrations(store.db)).toEqual([]);
    expect(byId(await store.registrations.loadAll())).toEqual([numbered, inline, fresh]);
    // The old row still names link set 5 directly; the shape does too.
    expect(store.db.prepare('SELECT id FROM registration_links').pluck().all()).toEqual([5]);
    await store.close();
  });

  it('stores each shape once and forgets the shapes no device uses any more, with their link sets', async () => {
    const dataDir = dir();
    const box = new SecretBox(randomBytes(32));
    const typeB = parseObjectLinks('</1/0>,</3/0>,</3303/0>');
    let store = SqliteStore.open(dataDir, box);
    const a = Array.from({ length: 20 }, (_, i) => registration({ id: `a${i}`, endpoint: `a-${i}` }));
    const short = registration({ id: 's0', endpoint: 's-0', lifetimeSec: 60, expiresAt: 1_700_000_060_000 });
    const b = registration({ id: 'b0', endpoint: 'b-0', objectLinks: typeB.objectLinks });
    await store.registrations.apply([...a, short, b]);
    const shapes = () => store.db.prepare('SELECT shape FROM registration_shapes ORDER BY id').pluck().all();
    expect(shapes()).toEqual(['[300,"1.1","U",0,null,"/",1]', '[60,"1.1","U",0,null,"/",1]', '[300,"1.1","U",0,null,"/",2]']);
    await store.registrations.apply([{ op: 'delete', endpoint: 'b-0' }, { op: 'delete', endpoint: 's-0' }]);
    await store.close();
    store = SqliteStore.open(dataDir, box);
    expect((await store.registrations.loadAll()).length).toBe(20);
    expect(shapes()).toEqual(['[300,"1.1","U",0,null,"/",1]']);
    expect(store.db.prepare('SELECT id FROM registration_links').pluck().all()).toEqual([1]);
    const again = registration({ id: 'b1', endpoint: 'b-1', objectLinks: typeB.objectLinks });
    await store.registrations.apply([again]);
    await store.close();
    store = SqliteStore.open(dataDir, box);
    expect((await store.registrations.loadAll()).find((r) => r.endpoint === 'b-1')).toEqual(again);
    await store.close();
  });
});

describe('de-registration written at once (deleteNow)', () => {
  it.each(['thread', 'inline'] as const)('a put handed over before it cannot resurrect it (%s writer)', async (registrationWriter) => {
    const dataDir = dir();
    const box = new SecretBox(randomBytes(32));
    let store = SqliteStore.open(dataDir, box, { registrationWriter });
    const r = registration({ id: 'r1', endpoint: 'dev' });
    const inFlight = store.registrations.apply([r]);
    store.registrations.deleteNow('dev');
    await inFlight;
    expect(await store.registrations.loadAll()).toEqual([]);
    // The batch after the de-registration ends the tombstone: the device may come back.
    await store.registrations.apply([{ op: 'delete', endpoint: 'dev' }]);
    expect(store.db.prepare('SELECT COUNT(*) AS n FROM registration_tombstones').get()).toEqual({ n: 0 });
    await store.registrations.apply([r]);
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
    const first = registrations.apply([before, other]);
    registrations.deleteNow('dev'); // the de-registration: on disk while batch 1 still waits
    expect(db.prepare('SELECT endpoint, seq FROM registration_tombstones').all()).toEqual([{ endpoint: 'dev', seq: 2 }]);
    const back = registration({ id: 'r2', endpoint: 'dev', address: { address: '10.0.0.2', port: 2 } });
    const second = registrations.apply([back]);
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
    await store.registrations.apply(many);
    expect((await store.registrations.loadAll()).sort((a, b) => a.address.port - b.address.port)).toEqual(many);
    await store.close();

    // The same steps as bytes through the batch writer, with dev-7 de-registered after they were handed over.
    const db = openDatabase(join(dir(), 'bytes.sqlite'));
    const registrations = new SqliteRegistrations(db, undefined, new HeldWriter(db));
    db.prepare('INSERT INTO registration_tombstones (endpoint, seq) VALUES (?, ?)').run('dev-7', 2);
    const rows = JSON.stringify(many.slice(0, 10).map((r) => [r.endpoint, r.id, r.address.address, r.address.port, 1, 0, 0]));
    const write = registrationBatchWriter(db);
    write({ seq: 1, timeBase: 1_700_000_000_000, links: [[1, '</1/0>']], shapes: [[1, '[300,"1.1","U",0,null,"/",1]']], steps: [Buffer.from(rows, 'utf8')] });
    const loaded = (await registrations.loadAll()).map((r) => r.endpoint).sort();
    expect(loaded).toEqual(many.slice(0, 10).map((r) => r.endpoint).filter((e) => e !== 'dev-7').sort());
    db.close();
  });

  it('a de-registration removes the stored registration even when memory had replaced it since', async () => {
    const file = join(dir(), 'replaced.sqlite');
    const db = openDatabase(file);
    const registrations = new SqliteRegistrations(db);
    await registrations.apply([registration({ id: 'r1', endpoint: 'dev' })]);
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
