import type { WebLink } from '../../lwm2m/link-format.js';
import { parseObjectLinks } from '../../lwm2m/server/object-links.js';
import type { Registration } from '../../lwm2m/server/registration.js';
import type { Logger } from '../../util/logger.js';
import { fromRow, parseRow, ROW } from '../registration-codec.js';
import { StoreCorruptError, type RegistrationPersistence, type RegistrationWrite } from '../types.js';
import type { SqliteDatabase } from './database.js';
import { LinkInterner } from './link-interner.js';
import { encodeBatch, type RegistrationBatch, type RegistrationBatchSink } from './registration-batch.js';
import { registrationBatchWriter, registrationDeleter } from './registration-sql.js';

export class SqliteRegistrations implements RegistrationPersistence {
  private readonly writeInline: (batch: RegistrationBatch) => void;
  private readonly deleter: (endpoint: string, nextSeq: number) => void;
  private readonly interner: LinkInterner;
  // Numbers batches in the order they are handed over; the tombstones of deleteNow refer to it.
  private nextSeq = 1;

  /** With a writer, batches are written by its thread; without, on this thread. */
  constructor(
    private readonly db: SqliteDatabase,
    private readonly logger?: Logger,
    private readonly writer?: RegistrationBatchSink,
  ) {
    // Tombstones refer to the batches of the process that wrote them; none of those is in
    // flight any more, and this process numbers its batches from 1 again.
    db.exec('DELETE FROM registration_tombstones');
    this.writeInline = registrationBatchWriter(db);
    this.deleter = registrationDeleter(db);
    this.interner = new LinkInterner(db.prepare('SELECT id, links FROM registration_links').raw().all() as Array<[number, string]>);
  }

  async loadAll(): Promise<Registration[]> {
    const linkSets = new Map<number, readonly WebLink[]>();
    for (const [n, text] of this.db.prepare('SELECT id, links FROM registration_links').raw().all() as Array<[number, string]>) {
      try {
        linkSets.set(n, parseObjectLinks(text).objectLinks);
      } catch {
        // The rows that name it are dropped below as unreadable.
      }
    }
    const used = new Set<number>();
    const loaded: Registration[] = [];
    const unreadable: string[] = [];
    const rows = this.db
      .prepare("SELECT endpoint, CASE WHEN typeof(data) = 'blob' AND json_valid(data, 8) THEN json(data) ELSE data END, time_base FROM registrations")
      .raw()
      .all() as Array<[string, string | Buffer, number]>;
    for (const [endpoint, data, timeBase] of rows) {
      try {
        // A blob that is not valid JSONB comes back as bytes: unreadable like bad text.
        const row = parseRow(typeof data === 'string' ? data : '');
        const registration = fromRow(endpoint, row, (n) => linkSets.get(n), timeBase);
        const links = (row as unknown[])[ROW.links];
        if (typeof links === 'number') used.add(links);
        loaded.push(registration);
      } catch (error) {
        if (!(error instanceof StoreCorruptError)) throw error;
        // An unreadable row costs that one device a re-registration, not the whole start.
        this.logger?.warn({ endpoint, err: error }, 'dropping unreadable stored registration');
        unreadable.push(endpoint);
      }
    }
    const dropRow = this.db.prepare('DELETE FROM registrations WHERE endpoint = ?');
    const dropLinks = this.db.prepare('DELETE FROM registration_links WHERE id = ?');
    this.db.transaction(() => {
      for (const endpoint of unreadable) dropRow.run(endpoint);
      // Link sets of device types that are gone.
      for (const n of this.interner.forgetUnused(used)) dropLinks.run(n);
    })();
    return loaded;
  }

  apply(writes: readonly RegistrationWrite[]): Promise<void> {
    if (writes.length === 0) return Promise.resolve();
    // Numbered and encoded now, in call order, even when the thread writes it later.
    const batch = encodeBatch(this.nextSeq++, writes, this.interner);
    if (this.writer) return this.writer.write(batch);
    try {
      this.writeInline(batch);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  deleteNow(endpoint: string): void {
    this.deleter(endpoint, this.nextSeq);
  }
}
