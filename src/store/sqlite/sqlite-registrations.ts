import type { Registration } from '../../lwm2m/server/registration.js';
import type { Logger } from '../../util/logger.js';
import { decodeRegistration } from '../registration-codec.js';
import { StoreCorruptError, type RegistrationPersistence, type RegistrationWrite } from '../types.js';
import type { SqliteDatabase } from './database.js';
import { registrationBatchWriter, registrationDeleter, toWorkerWrite, type WorkerWrite } from './registration-sql.js';
import type { WorkerRegistrationWriter } from './registration-writer.js';

export class SqliteRegistrations implements RegistrationPersistence {
  private readonly applyInline: (writes: readonly WorkerWrite[]) => void;
  private readonly deleter: (id: string) => void;
  private readonly selectAll;

  /** With a writer, batches are written by its thread; without, on this thread. */
  constructor(
    private readonly db: SqliteDatabase,
    private readonly logger?: Logger,
    private readonly writer?: WorkerRegistrationWriter,
  ) {
    this.applyInline = registrationBatchWriter(db);
    this.deleter = registrationDeleter(db);
    this.selectAll = db.prepare('SELECT id, data FROM registrations');
  }

  async loadAll(): Promise<Registration[]> {
    const loaded: Registration[] = [];
    for (const row of this.selectAll.all() as Array<{ id: string; data: string }>) {
      try {
        loaded.push(decodeRegistration(row.data));
      } catch (error) {
        if (!(error instanceof StoreCorruptError)) throw error;
        // An unreadable row costs that one device a re-registration, not the whole start.
        this.logger?.warn({ id: row.id, err: error }, 'dropping unreadable stored registration');
        this.db.prepare('DELETE FROM registrations WHERE id = ?').run(row.id);
      }
    }
    return loaded;
  }

  async apply(writes: readonly RegistrationWrite[]): Promise<void> {
    if (this.writer) return this.writer.apply(writes);
    if (writes.length > 0) this.applyInline(writes.map(toWorkerWrite));
  }

  deleteNow(id: string): void {
    this.deleter(id);
  }
}
