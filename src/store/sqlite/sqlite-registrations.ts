import type { WebLink } from '../../lwm2m/link-format.js';
import { parseObjectLinks } from '../../lwm2m/server/object-links.js';
import type { Registration } from '../../lwm2m/server/registration.js';
import type { Logger } from '../../util/logger.js';
import { fromRow, fromShape, LEGACY_LINKS, LEGACY_ROW_LENGTH, parseRow, ROW, SHAPE, type StoredShape } from '../registration-codec.js';
import { StoreCorruptError, type RegistrationPersistence, type RegistrationWrite } from '../types.js';
import type { SqliteDatabase } from './database.js';
import { LinkInterner } from './link-interner.js';
import { ShapeInterner } from './shape-interner.js';
import { encodeBatch, type RegistrationBatch, type RegistrationBatchSink } from './registration-batch.js';
import { registrationBatchWriter, registrationDeleter } from './registration-sql.js';

export class SqliteRegistrations implements RegistrationPersistence {
  private readonly writeInline: (batch: RegistrationBatch) => void;
  private readonly deleter: (endpoint: string, nextSeq: number) => void;
  private readonly linkSets: LinkInterner;
  private readonly shapes: ShapeInterner;
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
    this.linkSets = new LinkInterner(db.prepare('SELECT id, links FROM registration_links').raw().all() as Array<[number, string]>);
    this.shapes = new ShapeInterner(this.linkSets, db.prepare('SELECT id, shape FROM registration_shapes').raw().all() as Array<[number, string]>);
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
    const shapes = new Map<number, StoredShape>();
    // The link set each stored shape names, so sets of shapes still in use are kept.
    const linksOfShape = new Map<number, number>();
    for (const [n, text] of this.db.prepare('SELECT id, shape FROM registration_shapes').raw().all() as Array<[number, string]>) {
      let array: unknown;
      try {
        array = JSON.parse(text);
      } catch {
        continue; // The rows that name it are dropped below as unreadable.
      }
      const shape = fromShape(array, (k) => linkSets.get(k));
      if (!shape) continue;
      shapes.set(n, shape);
      const links = (array as unknown[])[SHAPE.links];
      if (typeof links === 'number') linksOfShape.set(n, links);
    }
    const stored = { shape: (n: number) => shapes.get(n), links: (n: number) => linkSets.get(n) };
    const usedShapes = new Set<number>();
    const usedLinks = new Set<number>();
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
        loaded.push(fromRow(endpoint, row, stored, timeBase));
        noteUsed(row as unknown[], usedShapes, usedLinks);
      } catch (error) {
        if (!(error instanceof StoreCorruptError)) throw error;
        // An unreadable row costs that one device a re-registration, not the whole start.
        this.logger?.warn({ endpoint, err: error }, 'dropping unreadable stored registration');
        unreadable.push(endpoint);
      }
    }
    const dropRow = this.db.prepare('DELETE FROM registrations WHERE endpoint = ?');
    const dropShape = this.db.prepare('DELETE FROM registration_shapes WHERE id = ?');
    const dropLinks = this.db.prepare('DELETE FROM registration_links WHERE id = ?');
    this.db.transaction(() => {
      for (const endpoint of unreadable) dropRow.run(endpoint);
      // Shapes and link sets of device types that are gone.
      for (const n of this.shapes.forgetUnused(usedShapes)) dropShape.run(n);
      for (const [shape, links] of linksOfShape) if (usedShapes.has(shape)) usedLinks.add(links);
      for (const n of this.linkSets.forgetUnused(usedLinks)) dropLinks.run(n);
    })();
    return loaded;
  }

  apply(writes: readonly RegistrationWrite[]): Promise<void> {
    if (writes.length === 0) return Promise.resolve();
    // Numbered and encoded now, in call order, even when the thread writes it later.
    const batch = encodeBatch(this.nextSeq++, writes, this.shapes);
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

/** Adds the shape or link set a (readable) row names to the sets in use. */
function noteUsed(row: unknown[], usedShapes: Set<number>, usedLinks: Set<number>): void {
  if (row.length === LEGACY_ROW_LENGTH) {
    if (typeof row[LEGACY_LINKS] === 'number') usedLinks.add(row[LEGACY_LINKS]);
    return;
  }
  const shape = row[ROW.shape];
  if (typeof shape === 'number') usedShapes.add(shape);
  else if (Array.isArray(shape) && typeof shape[SHAPE.links] === 'number') usedLinks.add(shape[SHAPE.links] as number);
}
