import type { WebLink } from '../../lwm2m/link-format.js';
import { parseObjectLinks } from '../../lwm2m/server/object-links.js';
import type { Registration } from '../../lwm2m/server/registration.js';
import type { Logger } from '../../util/logger.js';
import { fromRow, fromShape, LEGACY_LINKS, LEGACY_ROW_LENGTH, ROW, SHAPE, type StoredShape } from '../registration-codec.js';
import { StoreCorruptError, type RegistrationPersistence, type RegistrationWrite } from '../types.js';
import type { SqliteDatabase } from './database.js';
import { LinkInterner } from './link-interner.js';
import { ShapeInterner } from './shape-interner.js';
import { encodeBatch, type RegistrationBatch, type RegistrationBatchSink } from './registration-batch.js';
import { registrationBatchWriter, registrationDeleter } from './registration-sql.js';

/** A log holding more rows than this many times the live registrations (plus the slack) is rewritten. */
export const REWRITE_FACTOR = 2;
/** Rows a log may hold beyond REWRITE_FACTOR × live before a rewrite: small fleets are not rewritten every few minutes. */
export const DEFAULT_REWRITE_SLACK = 100_000;

export interface SqliteRegistrationsOptions {
  /** See DEFAULT_REWRITE_SLACK. */
  rewriteSlack?: number;
}

/** The newest stored row of an endpoint at load: `row` with the endpoint in front (log) or not (old table). */
interface Latest {
  row: unknown[];
  keyed: boolean;
  timeBase: number;
}

export class SqliteRegistrations implements RegistrationPersistence {
  private readonly writeInline: (batch: RegistrationBatch) => void;
  private readonly deleter: (endpoint: string, pos: number) => void;
  private readonly linkSets: LinkInterner;
  private readonly shapes: ShapeInterner;
  private readonly rewriteSlack: number;
  // Numbers batches in the order they are handed over; a batch's log position derives from it.
  private nextSeq = 1;
  // The largest log position on disk when this process started: this process writes beyond it.
  private readonly base: number;
  // Rows in the log (puts and deletes, superseded or not) and in the old table.
  private logRows = 0;
  private oldTableRows = 0;
  // While a rewrite runs: where it began, and how many log rows lay before it (the old table's are counted apart).
  private rewrite: { from: number; rowsBefore: number } | undefined;

  /** With a writer, batches are written by its thread; without, on this thread. */
  constructor(
    private readonly db: SqliteDatabase,
    private readonly logger?: Logger,
    private readonly writer?: RegistrationBatchSink,
    options: SqliteRegistrationsOptions = {},
  ) {
    this.writeInline = registrationBatchWriter(db);
    this.deleter = registrationDeleter(db);
    this.rewriteSlack = options.rewriteSlack ?? DEFAULT_REWRITE_SLACK;
    this.base = db.prepare('SELECT COALESCE(MAX(pos), 0) FROM registration_log').pluck().get() as number;
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

    const { latest, logRows, oldTableRows, unreadable } = this.readLatest();
    this.logRows = logRows;
    this.oldTableRows = oldTableRows;

    // Only the newest row of each endpoint is decoded: older ones are superseded.
    const stored = { shape: (n: number) => shapes.get(n), links: (n: number) => linkSets.get(n) };
    const usedShapes = new Set<number>();
    const usedLinks = new Set<number>();
    const loaded: Registration[] = [];
    for (const [endpoint, { row, keyed, timeBase }] of latest) {
      const fields = keyed ? row.slice(1) : row;
      try {
        loaded.push(fromRow(endpoint, fields, stored, timeBase));
        noteUsed(fields, usedShapes, usedLinks);
      } catch (error) {
        if (!(error instanceof StoreCorruptError)) throw error;
        // An unreadable row costs that one device a re-registration, not the whole start.
        this.logger?.warn({ endpoint, err: error }, 'dropping unreadable stored registration');
        unreadable.push(endpoint);
      }
    }
    const dropShape = this.db.prepare('DELETE FROM registration_shapes WHERE id = ?');
    const dropLinks = this.db.prepare('DELETE FROM registration_links WHERE id = ?');
    this.db.transaction(() => {
      // A delete after the unreadable row, so it is not read again at the next start.
      for (const endpoint of unreadable) this.deleteNow(endpoint);
      // Shapes and link sets of device types that are gone. (Superseded rows may still
      // name them: they are never decoded again, whatever the number comes to mean.)
      for (const n of this.shapes.forgetUnused(usedShapes)) dropShape.run(n);
      for (const [shape, links] of linksOfShape) if (usedShapes.has(shape)) usedLinks.add(links);
      for (const n of this.linkSets.forgetUnused(usedLinks)) dropLinks.run(n);
    })();
    return loaded;
  }

  apply(writes: readonly RegistrationWrite[]): Promise<void> {
    if (writes.length === 0) return Promise.resolve();
    // Numbered and encoded now, in call order, even when the thread writes it later.
    const seq = this.nextSeq++;
    const { batch, rows, rewriteBegins, rewriteEnds } = encodeBatch(seq, this.base + 2 * seq, writes, this.shapes);
    if (rewriteBegins) this.rewrite = { from: batch.pos, rowsBefore: this.logRows };
    this.logRows += rows;
    if (rewriteEnds && this.rewrite) {
      batch.dropBefore = this.rewrite.from;
      this.logRows -= this.rewrite.rowsBefore;
      this.oldTableRows = 0;
      this.rewrite = undefined;
    }
    if (this.writer) return this.writer.write(batch);
    try {
      this.writeInline(batch);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  deleteNow(endpoint: string): void {
    this.deleter(endpoint, this.base + 2 * this.nextSeq - 1);
    this.logRows++;
  }

  /**
   * A log much longer than the live registrations is rewritten; so is one that still has
   * rows in the old table (written before the log existed), to move them in.
   */
  wantsRewrite(live: number): boolean {
    if (this.rewrite) return false;
    return this.oldTableRows > 0 || this.logRows > REWRITE_FACTOR * live + this.rewriteSlack;
  }

  /** The newest row of every endpoint: the old table first (older than any log entry), then the log in order. */
  private readLatest(): { latest: Map<string, Latest>; logRows: number; oldTableRows: number; unreadable: string[] } {
    const latest = new Map<string, Latest>();
    const unreadable: string[] = [];
    const oldRows = this.db
      .prepare("SELECT endpoint, CASE WHEN typeof(data) = 'blob' AND json_valid(data, 8) THEN json(data) ELSE data END, time_base FROM registrations")
      .raw()
      .all() as Array<[string, string | Buffer, number]>;
    for (const [endpoint, data, timeBase] of oldRows) {
      // A blob that is not valid JSONB comes back as bytes: unreadable like bad text.
      const row = parseStored(typeof data === 'string' ? data : '');
      if (Array.isArray(row)) latest.set(endpoint, { row, keyed: false, timeBase });
      else {
        this.logger?.warn({ endpoint }, 'dropping unreadable stored registration');
        unreadable.push(endpoint);
      }
    }
    let logRows = 0;
    const entries = this.db.prepare('SELECT time_base, entries FROM registration_log ORDER BY pos, rowid').raw().iterate() as IterableIterator<[number, string]>;
    for (const [timeBase, text] of entries) {
      const rows = parseStored(text);
      if (!Array.isArray(rows)) {
        // Which devices it named is unknown: they are whatever older rows say, or re-register.
        this.logger?.warn({ timeBase }, 'skipping an unreadable entry of the registration log');
        continue;
      }
      logRows += rows.length;
      for (const row of rows as unknown[]) {
        const endpoint = Array.isArray(row) ? (row[0] as unknown) : undefined;
        if (typeof endpoint !== 'string' || endpoint === '') {
          this.logger?.warn('skipping an unreadable row of the registration log');
          continue;
        }
        if ((row as unknown[]).length === 1) latest.delete(endpoint);
        else latest.set(endpoint, { row: row as unknown[], keyed: true, timeBase });
      }
    }
    return { latest, logRows, oldTableRows: oldRows.length, unreadable };
  }
}

function parseStored(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
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
