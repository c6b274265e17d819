/**
 * The SQL of registration batches, shared by the writer thread and the inline writer.
 *
 * Registrations are kept as a log (table registration_log): a batch's writes are appended
 * as one entry per step, a JSON array of rows (registration-batch.ts), so a batch of a
 * thousand registrations is one insert and SQLite never walks an index per device. (The
 * table it replaced held one row per endpoint and paid a b-tree insert per registration on
 * the writer thread, measured at about 0.6 µs of the ~1.7 µs that SQLite added per
 * registration; see the README.) An entry is JSON text, so the sqlite3 shell shows it:
 * `SELECT value FROM registration_log, json_each(entries)`.
 *
 * Order: entries are read back by pos, and the last row of an endpoint wins. A batch's
 * pos is base + 2·seq (base: the largest pos on disk when the process started), and a
 * de-registration written at once by the main thread (deleteNow) takes base + 2·nextSeq - 1:
 * after every batch already handed over (even one the writer thread has not written yet),
 * before every later one. No tombstones, no per-row checks.
 *
 * The log only grows until the write-behind rewrites it (RegistrationPersistence.
 * wantsRewrite): the batch that ends a rewrite carries dropBefore, and everything older goes.
 */
import type { RegistrationBatch } from './registration-batch.js';
import type { SqliteDatabase } from './database.js';

export function registrationBatchWriter(db: SqliteDatabase): (batch: RegistrationBatch) => void {
  const append = db.prepare('INSERT INTO registration_log (pos, time_base, entries) VALUES (?, ?, ?)');
  // Steps that arrive as UTF-8 bytes would be stored as a blob; the cast stores the same
  // bytes as text (the database's encoding is UTF-8: no conversion).
  const appendBytes = db.prepare('INSERT INTO registration_log (pos, time_base, entries) VALUES (?, ?, CAST(? AS TEXT))');
  const defineLinks = db.prepare('INSERT OR IGNORE INTO registration_links (id, links) VALUES (?, ?)');
  const defineShape = db.prepare('INSERT OR IGNORE INTO registration_shapes (id, shape) VALUES (?, ?)');
  const dropEntries = db.prepare('DELETE FROM registration_log WHERE pos < ?');
  const dropOldRows = db.prepare('DELETE FROM registrations');
  const write = (batch: RegistrationBatch): void => {
    for (const [n, text] of batch.links) defineLinks.run(n, text);
    for (const [n, text] of batch.shapes) defineShape.run(n, text);
    for (const step of batch.steps) {
      if (typeof step === 'string') append.run(batch.pos, batch.timeBase, step);
      else appendBytes.run(batch.pos, batch.timeBase, step);
    }
    if (batch.dropBefore !== undefined) {
      dropEntries.run(batch.dropBefore);
      dropOldRows.run();
    }
  };
  // IMMEDIATE: the write lock is taken at BEGIN, so the transaction never has to upgrade a
  // read snapshot that a deleteNow on the main connection has made stale.
  return db.transaction(write).immediate;
}

/** Writes a de-registration now, as an entry at `pos` (see the file comment for which). */
export function registrationDeleter(db: SqliteDatabase): (endpoint: string, pos: number) => void {
  const append = db.prepare('INSERT INTO registration_log (pos, time_base, entries) VALUES (?, 0, json_array(json_array(?)))');
  return (endpoint, pos) => {
    append.run(pos, endpoint);
  };
}
