/**
 * The SQL of registration batches, shared by the writer thread and the inline writer.
 *
 * One row per endpoint (table registrations, WITHOUT ROWID: one b-tree), the row a JSON
 * array (registration-codec.ts). A run of puts is ONE statement: SQLite converts the
 * batch's JSON text to its binary form once and walks it with jsonb_each, so the per-row
 * cost is a b-tree insert, with no call from JavaScript per row. (Walking the text with
 * json_each instead parses every row twice: measured ~20 % more CPU per row.) Rows are
 * stored in SQLite's binary JSON (JSONB): rendering each back to text took another ~23 % of
 * the writer's CPU. Rows written as text by older versions stay readable; `json(data)`
 * shows either kind in the sqlite3 shell.
 *
 * Tombstones: a de-registration is written at once by the main thread (deleteNow) while
 * older puts of the same endpoint may still be on their way through the writer thread. It
 * leaves (endpoint, seq), seq being the first batch handed over after it: a put of that
 * endpoint in a batch numbered below seq is older than the de-registration and is skipped.
 * Once batch seq itself is written, every older batch is too, and the tombstone goes.
 * They are read once per batch (usually none), not probed per row.
 *
 * Every row of a batch gets the batch's time base (column time_base, registration-codec.ts).
 */
import type { KeyedRow } from '../registration-codec.js';
import type { RegistrationBatch } from './registration-batch.js';
import type { SqliteDatabase } from './database.js';

export function registrationBatchWriter(db: SqliteDatabase): (batch: RegistrationBatch) => void {
  // REPLACE on the endpoint key: one statement stores a registration and drops whatever
  // registration the device had before. A batch row is [endpoint, ...stored row]; rows go
  // in array order, so the last put of an endpoint wins.
  const putRows = db.prepare(
    "INSERT OR REPLACE INTO registrations (endpoint, data, time_base) SELECT value ->> 0, jsonb_remove(value, '$[0]'), ? FROM jsonb_each(jsonb(?))",
  );
  // The same for rows that arrive as UTF-8 bytes: bound as a blob, which jsonb() would
  // take for binary JSON, so it is read as text first (no conversion in JavaScript).
  const putRowBytes = db.prepare(
    "INSERT OR REPLACE INTO registrations (endpoint, data, time_base) SELECT value ->> 0, jsonb_remove(value, '$[0]'), ? FROM jsonb_each(jsonb(CAST(? AS TEXT)))",
  );
  const deleteRow = db.prepare('DELETE FROM registrations WHERE endpoint = ?');
  const defineLinks = db.prepare('INSERT OR IGNORE INTO registration_links (id, links) VALUES (?, ?)');
  const defineShape = db.prepare('INSERT OR IGNORE INTO registration_shapes (id, shape) VALUES (?, ?)');
  const tombstones = db.prepare('SELECT endpoint, seq FROM registration_tombstones');
  const dropTombstones = db.prepare('DELETE FROM registration_tombstones WHERE seq <= ?');
  const write = (batch: RegistrationBatch): void => {
    let blocked: Set<string> | undefined;
    let done = false;
    for (const { endpoint, seq } of tombstones.all() as Array<{ endpoint: string; seq: number }>) {
      if (seq > batch.seq) (blocked ??= new Set()).add(endpoint);
      else done = true;
    }
    for (const [n, text] of batch.links) defineLinks.run(n, text);
    for (const [n, text] of batch.shapes) defineShape.run(n, text);
    for (const step of batch.steps) {
      if (typeof step === 'string') putRows.run(batch.timeBase, blocked ? withoutEndpoints(step, blocked) : step);
      else if (step instanceof Uint8Array) {
        if (blocked) putRows.run(batch.timeBase, withoutEndpoints(Buffer.from(step.buffer, step.byteOffset, step.byteLength).toString('utf8'), blocked));
        else putRowBytes.run(batch.timeBase, step);
      } else for (const endpoint of step) deleteRow.run(endpoint);
    }
    if (done) dropTombstones.run(batch.seq);
  };
  // IMMEDIATE: the write lock is taken before the tombstones are read, so a deleteNow
  // cannot slip in between the read and the writes.
  return db.transaction(write).immediate;
}

function withoutEndpoints(rows: string, blocked: ReadonlySet<string>): string {
  return JSON.stringify((JSON.parse(rows) as KeyedRow[]).filter((row) => !blocked.has(row[0])));
}

/**
 * Writes a de-registration now: the endpoint's row goes, whatever id it had, and a
 * tombstone stops the puts of batches numbered below `nextSeq` (already handed over).
 */
export function registrationDeleter(db: SqliteDatabase): (endpoint: string, nextSeq: number) => void {
  const tombstone = db.prepare('INSERT OR REPLACE INTO registration_tombstones (endpoint, seq) VALUES (?, ?)');
  const remove = db.prepare('DELETE FROM registrations WHERE endpoint = ?');
  return db.transaction((endpoint: string, nextSeq: number) => {
    tombstone.run(endpoint, nextSeq);
    remove.run(endpoint);
  }).immediate;
}
