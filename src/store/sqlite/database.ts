import Database from 'better-sqlite3';
import { MIGRATIONS, type Migration } from './migrations.js';

export type SqliteDatabase = Database.Database;

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

/**
 * Page size of a NEW database file (an existing one keeps its own: in WAL mode it cannot
 * change). Registration batches rewrite the b-tree pages their rows land on, and every
 * written page is a WAL frame and a system call at commit and again at checkpoint: with
 * 16 KiB pages the writer thread spent ~20 % less CPU per row on endpoints in order
 * (the benchmark's fleet) and ~30 % less on endpoints in random order (a real fleet's
 * updates), measured on 260k rows. Point reads of the other tables read bigger pages,
 * but they are few and mostly cached.
 */
export const NEW_DATABASE_PAGE_SIZE = 16384;

/**
 * Opens (creating if needed) the database file in WAL mode and brings its schema up to
 * date. synchronous=NORMAL: a commit reaches the OS before the call returns, so a killed
 * process loses nothing committed; only a power cut may lose the last commits, which the
 * write-behind already accepts.
 */
export function openDatabase(file: string, migrations: readonly Migration[] = MIGRATIONS): SqliteDatabase {
  const db = new Database(file);
  try {
    // Takes effect only while the file is still empty (no-op otherwise), so before anything else.
    db.pragma(`page_size = ${NEW_DATABASE_PAGE_SIZE}`);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    applyMigrations(db, migrations);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/** Applies every migration above the stored version, each in its own transaction. Returns the versions applied. */
export function applyMigrations(db: SqliteDatabase, migrations: readonly Migration[] = MIGRATIONS): number[] {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const current = schemaVersion(db);
  const known = Math.max(0, ...migrations.map((m) => m.version));
  if (current > known) {
    throw new MigrationError(`database schema is version ${current}, newer than this server knows (${known}); use a newer server`);
  }
  const applied: number[] = [];
  const record = db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)');
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    if (migration.version <= current) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      record.run(migration.version, migration.name, Date.now());
    })();
    applied.push(migration.version);
  }
  return applied;
}

export function schemaVersion(db: SqliteDatabase): number {
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number | null };
  return row.v ?? 0;
}
