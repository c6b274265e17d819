/** The SQL of registration batches, shared by the writer thread and the inline writer. */
import { toStoredRegistration, type StoredRegistration } from '../registration-codec.js';
import type { RegistrationWrite } from '../types.js';
import type { SqliteDatabase } from './database.js';

/** [id] = delete; [id, record] = put. */
export type WorkerWrite = [string] | [string, StoredRegistration];

export function toWorkerWrite(write: RegistrationWrite): WorkerWrite {
  return write.op === 'delete' ? [write.id] : [write.registration.id, toStoredRegistration(write.registration)];
}

export function registrationBatchWriter(db: SqliteDatabase): (writes: readonly WorkerWrite[]) => void {
  // REPLACE deletes every row that conflicts on id OR on the unique endpoint: one statement
  // both updates a registration and drops an older registration of the same device. A
  // tombstone (a de-registration already written) makes a late put of that id a no-op.
  const upsert = db.prepare(
    'INSERT OR REPLACE INTO registrations (id, endpoint, data) SELECT ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM registration_tombstones WHERE id = ?)',
  );
  const remove = db.prepare('DELETE FROM registrations WHERE id = ?');
  // Every put of this id came before its delete in the batch order, so the tombstone has done its job.
  const forgetTombstone = db.prepare('DELETE FROM registration_tombstones WHERE id = ?');
  return db.transaction((writes: readonly WorkerWrite[]) => {
    for (const write of writes) {
      if (write.length === 1) {
        remove.run(write[0]);
        forgetTombstone.run(write[0]);
      } else {
        upsert.run(write[0], write[1].endpoint, JSON.stringify(write[1]), write[0]);
      }
    }
  });
}

/** Writes a de-registration now, and a tombstone so puts still in flight cannot undo it. */
export function registrationDeleter(db: SqliteDatabase): (id: string) => void {
  const tombstone = db.prepare('INSERT OR IGNORE INTO registration_tombstones (id) VALUES (?)');
  const remove = db.prepare('DELETE FROM registrations WHERE id = ?');
  return db.transaction((id: string) => {
    tombstone.run(id);
    remove.run(id);
  });
}
