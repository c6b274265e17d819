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
import { REWRITE_BEGIN, REWRITE_END, StoreCorruptError } from '../../../src/store/types.js';
import { WriteBehindRegistrationStore } from '../../../src/store/write-behind-registrations.js';
import { ManualClock } from '../../../src/util/clock.js';
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

  it('appends each batch to the log as one entry of JSON text, a put per row and a delete as the endpoint alone', async () => {
    const dataDir = dir();
    const store = SqliteStore.open(dataDir, new SecretBox(randomBytes(32)));
    const good = registration({ id: 'ok', endpoint: 'good' });
    const gone = registration({ id: 'g1', endpoint: 'gone' });
    await store.registrations.apply([good, gone]);
    await store.registrations.apply([{ op: 'delete', endpoint: 'gone' }]);
    expect(store.db.prepare('SELECT pos, time_base, typeof(entries) AS type FROM registration_log ORDER BY pos').all()).toEqual([
      { pos: 2, time_base: good.lastUpdateAt, type: 'text' },
      { pos: 4, time_base: 0, type: 'text' },
    ]);
    // The sqlite3 shell can walk the rows.
    const rows = store.db.prepare('SELECT value FROM registration_log, json_each(entries) ORDER BY pos').pluck().all() as string[];
    expect(rows.map((row) => (JSON.parse(row) as unknown[]).slice(0, 1 + ROW.id + 1))).toEqual([['good', 'ok'], ['gone', 'g1'], ['gone']]);
    expect(await store.registrations.loadAll()).toEqual([good]);
    await store.close();
  });

  it('drops an unreadable registration row at load instead of failing the start', async () => {
    const dataDir = dir();
    const box = new SecretBox(randomBytes(32));
    let store = SqliteStore.open(dataDir, box);
    const good = registration({ id: 'ok', endpoint: 'good' });
    await store.registrations.apply([good]);
    // Rows of the old one-row-per-endpoint table (written before the log existed).
    const insert = store.db.prepare('INSERT INTO registrations (endpoint, data) VALUES (?, ?)');
    insert.run('bad', '["bad"');
    insert.run('short', '["short","s1",300]');
    // Bytes that are not SQLite's binary JSON, where a JSONB row would be.
    insert.run('blob', Buffer.from([0xff, 0x00, 0x13, 0x37]));
    // Log entries: one that is not JSON, one that is not an array, rows without an endpoint.
    const append = store.db.prepare('INSERT INTO registration_log (pos, time_base, entries) VALUES (?, 0, ?)');
    append.run(10, '[["x"');
    append.run(11, '{"x":1}');
    append.run(12, '[7,[],[""],"y"]');
    // A row that names a shape the table does not hold.
    const orphan = JSON.parse(encodeRegistration(registration({ id: 'o1', endpoint: 'orphan' }))) as unknown[];
    orphan[ROW.shape] = 999;
    append.run(13, JSON.stringify([['orphan', ...orphan]]));
    // A shape whose link set the table does not hold.
    store.db.prepare('INSERT INTO registration_shapes (id, shape) VALUES (?, ?)').run(77, '[300,"1.1","U",0,null,"/",998]');
    orphan[ROW.shape] = 77;
    append.run(14, JSON.stringify([['orphan-links', ...orphan]]));
    // As a restart finds them.
    await store.close();
    store = SqliteStore.open(dataDir, box);
    expect(await store.registrations.loadAll()).toEqual([good]);
    // Each unreadable device gets a delete after its row, so the next start does not read it again.
    const deletes = store.db.prepare('SELECT entries FROM registration_log WHERE pos > 14 ORDER BY rowid').pluck().all();
    expect(deletes).toEqual(['[["bad"]]', '[["blob"]]', '[["short"]]', '[["orphan"]]', '[["orphan-links"]]']);
    expect(await store.registrations.loadAll()).toEqual([good]);
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
    const data = store.db.prepare('SELECT entries FROM registration_log').pluck().all() as string[];
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
    // The row that did not convert fully is unreadable: a delete in the log stops it.
    expect(store.db.prepare('SELECT entries FROM registration_log').pluck().all()).toEqual(['[["dev-partial"]]']);
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
    // The old row keeps its 13-field form, registeredAt at index 10; a log row has the endpoint in front.
    const old13 = store.db.prepare('SELECT endpoint, time_base AS base, data ->> 10 AS offset FROM registrations').all();
    expect(old13).toEqual([{ endpoint: 'dev-old', base: 0, offset: 1_700_000_000_000 }]);
    const logged = store.db
      .prepare('SELECT value ->> 0 AS endpoint, time_base AS base, value ->> ? AS offset FROM registration_log, json_each(entries) ORDER BY endpoint')
      .all(`$[${1 + ROW.registeredAt}]`);
    expect(logged).toEqual([
      { endpoint: 'dev-new', base: 1_800_000_000_000, offset: 0 },
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
    expect(store.db.prepare('SELECT entries FROM registration_log').pluck().get()).toBe('[["dev-new","r3","127.0.0.1",40000,1,0,0]]');
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
    // A registration after the de-registration is kept.
    await store.registrations.apply([r]);
    await store.close();
    store = SqliteStore.open(dataDir, box, { registrationWriter });
    expect(await store.registrations.loadAll()).toEqual([r]);
    await store.close();
  });

  it('with a writer that lags: the de-registration sits after the puts handed over before it and before the later ones', async () => {
    const file = join(dir(), 'lag.sqlite');
    const db = openDatabase(file);
    const writer = new HeldWriter(openDatabase(file));
    const registrations = new SqliteRegistrations(db, undefined, writer);
    const before = registration({ id: 'r1', endpoint: 'dev', address: { address: '10.0.0.1', port: 1 } });
    const other = registration({ id: 'o1', endpoint: 'other' });
    const first = registrations.apply([before, other]);
    registrations.deleteNow('dev'); // the de-registration: on disk while batch 1 still waits
    expect(db.prepare('SELECT pos, entries FROM registration_log').raw().all()).toEqual([[3, '[["dev"]]']]);
    const back = registration({ id: 'r2', endpoint: 'dev', address: { address: '10.0.0.2', port: 2 } });
    const second = registrations.apply([back]);
    // Batch 1 lands; a kill now must not find the de-registered device on disk.
    writer.release(1);
    await first;
    expect(await registrations.loadAll()).toEqual([other]);
    writer.release();
    await second;
    expect((await registrations.loadAll()).sort((a, b) => a.id.localeCompare(b.id))).toEqual([other, back]);
    expect(db.prepare('SELECT pos FROM registration_log ORDER BY pos').pluck().all()).toEqual([2, 3, 4]);
    writer.close();
    db.close();
  });

  it('a process numbers its entries after the last one on disk', async () => {
    const file = join(dir(), 'positions.sqlite');
    let db = openDatabase(file);
    await new SqliteRegistrations(db).apply([registration({ id: 'r1', endpoint: 'dev' })]);
    db.close();
    db = openDatabase(file);
    const registrations = new SqliteRegistrations(db);
    // The earlier process's batch 1 is at 2; this one's de-registration and batch 1 come after it.
    registrations.deleteNow('dev');
    const back = registration({ id: 'r2', endpoint: 'dev' });
    await registrations.apply([back]);
    expect(db.prepare('SELECT pos FROM registration_log ORDER BY pos').pluck().all()).toEqual([2, 3, 4]);
    expect(await registrations.loadAll()).toEqual([back]);
    db.close();
  });

  it('a long batch travels to the writer thread as bytes and is stored as text', async () => {
    const dataDir = dir();
    const box = new SecretBox(randomBytes(32));
    const store = SqliteStore.open(dataDir, box, { registrationWriter: 'thread' });
    const many = Array.from({ length: 600 }, (_, i) => registration({ id: `r${i}`, endpoint: `dev-${i}`, address: { address: '10.0.0.1', port: i } }));
    await store.registrations.apply(many);
    expect((await store.registrations.loadAll()).sort((a, b) => a.address.port - b.address.port)).toEqual(many);
    expect(store.db.prepare('SELECT typeof(entries) FROM registration_log').pluck().all()).toEqual(['text']);
    await store.close();

    // The same kind of step as bytes through the batch writer, on a connection of its own.
    const db = openDatabase(join(dir(), 'bytes.sqlite'));
    const rows = JSON.stringify(many.slice(0, 10).map((r) => [r.endpoint, r.id, r.address.address, r.address.port, 1, 0, 0]));
    registrationBatchWriter(db)({ pos: 2, timeBase: 1_700_000_000_000, links: [[1, '</1/0>']], shapes: [[1, '[300,"1.1","U",0,null,"/",1]']], steps: [Buffer.from(rows, 'utf8')] });
    expect(db.prepare('SELECT typeof(entries) AS type, entries FROM registration_log').get()).toEqual({ type: 'text', entries: rows });
    const loaded = (await new SqliteRegistrations(db).loadAll()).map((r) => r.endpoint).sort();
    expect(loaded).toEqual(many.slice(0, 10).map((r) => r.endpoint).sort());
    db.close();
  });

  it('a de-registration removes the stored registration even when memory had replaced it since', async () => {
    const file = join(dir(), 'replaced.sqlite');
    const db = openDatabase(file);
    const registrations = new SqliteRegistrations(db);
    await registrations.apply([registration({ id: 'r1', endpoint: 'dev' })]);
    // r2 replaced r1 in memory and was de-registered before any flush: the log still holds r1.
    registrations.deleteNow('dev');
    expect(await registrations.loadAll()).toEqual([]);
    db.close();
  });
});

describe('rewriting the registration log', () => {
  const put = (endpoint: string, at: number) => registration({ id: `${endpoint}-${at}`, endpoint, lastUpdateAt: 1_700_000_000_000 + at, expiresAt: 1_700_000_300_000 + at });
  const byEndpoint = (rs: Registration[]) => rs.sort((a, b) => a.endpoint.localeCompare(b.endpoint));

  it('is wanted once the log holds more than twice the live rows plus the slack; its end drops what lies before its begin', async () => {
    const file = join(dir(), 'rewrite.sqlite');
    let db = openDatabase(file);
    let registrations = new SqliteRegistrations(db, undefined, undefined, { rewriteSlack: 4 });
    for (let at = 1; at <= 3; at++) await registrations.apply([put('a', at), put('b', at), put('c', at)]);
    expect(registrations.wantsRewrite(3)).toBe(false); // 9 rows, 2 × 3 + 4 = 10 allowed
    await registrations.apply([put('a', 4), put('b', 4), put('c', 4)]);
    expect(registrations.wantsRewrite(3)).toBe(true);
    registrations.deleteNow('c');
    await registrations.apply([REWRITE_BEGIN, put('a', 4), put('b', 5)]);
    expect(registrations.wantsRewrite(2)).toBe(false); // under way
    await registrations.apply([put('d', 6), REWRITE_END]);
    // Batches at 2, 4, 6, 8, the de-registration at 9, the rewrite's batches at 10 and 12.
    expect(db.prepare('SELECT pos FROM registration_log ORDER BY pos').pluck().all()).toEqual([10, 12]);
    const expected = [put('a', 4), put('b', 5), put('d', 6)];
    expect(byEndpoint(await registrations.loadAll())).toEqual(expected);
    expect(registrations.wantsRewrite(3)).toBe(false);
    db.close();
    db = openDatabase(file);
    registrations = new SqliteRegistrations(db, undefined, undefined, { rewriteSlack: 4 });
    expect(byEndpoint(await registrations.loadAll())).toEqual(expected);
    expect(registrations.wantsRewrite(3)).toBe(false);
    db.close();
  });

  it('a rewrite cut short (no end) drops nothing', async () => {
    const file = join(dir(), 'cut.sqlite');
    let db = openDatabase(file);
    const registrations = new SqliteRegistrations(db, undefined, undefined, { rewriteSlack: 0 });
    await registrations.apply([put('a', 1), put('b', 1)]);
    await registrations.apply([{ op: 'delete', endpoint: 'b' }, put('c', 2)]);
    await registrations.apply([REWRITE_BEGIN, put('a', 1)]); // the process dies before it puts c again
    db.close();
    db = openDatabase(file);
    const reopened = new SqliteRegistrations(db, undefined, undefined, { rewriteSlack: 0 });
    expect(byEndpoint(await reopened.loadAll())).toEqual([put('a', 1), put('c', 2)]);
    // 5 rows for 2 devices: wanted again.
    expect(reopened.wantsRewrite(2)).toBe(true);
    db.close();
  });

  it('the write-behind moves rows of the old table into the log at the first start, and the table empties', async () => {
    const dataDir = dir();
    const file = join(dataDir, SQLITE_FILE_NAME);
    const old = new Database(file);
    applyMigrations(old, MIGRATIONS.filter((m) => m.version <= 8));
    const before = [registration({ id: 'r1', endpoint: 'dev-1' }), registration({ id: 'r2', endpoint: 'dev-2', lastUpdateAt: 1_700_000_060_000, expiresAt: 1_700_000_360_000 })];
    for (const r of before) old.prepare('INSERT INTO registrations (endpoint, data, time_base) VALUES (?, jsonb(?), 0)').run(r.endpoint, legacyRow(r));
    old.close();

    const db = openDatabase(file);
    const registrations = new SqliteRegistrations(db);
    const clock = new ManualClock();
    const store = await WriteBehindRegistrationStore.open({ persistence: registrations, clock, flushIntervalMs: 100 });
    expect(store.list().sort((a, b) => a.id.localeCompare(b.id))).toEqual(before);
    clock.advance(100); // no device has written: the rewrite starts by itself
    await store.flush();
    expect(db.prepare('SELECT COUNT(*) FROM registrations').pluck().get()).toBe(0);
    expect(db.prepare('SELECT value ->> 0 FROM registration_log, json_each(entries)').pluck().all()).toEqual(['dev-1', 'dev-2']);
    expect(byEndpoint(await new SqliteRegistrations(db).loadAll())).toEqual(before);
    await store.close();
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
