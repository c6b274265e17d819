/**
 * A batch of registration writes as it travels to the writer thread: a few strings, so
 * the copy between threads is a memory copy, not a structured clone of thousands of
 * objects. The rows are encoded once, here, by one JSON.stringify per run of puts: an
 * array of rows with the endpoint in front, which SQLite walks with jsonb_each
 * (registration-sql.ts). (Not an object keyed by endpoint: V8 would internalise every
 * endpoint string to make it a property name, which costs more than the array.)
 */
import { toKeyedRow, type KeyedRow } from '../registration-codec.js';
import { isRegistrationDelete, type RegistrationWrite } from '../types.js';
import type { Definitions, ShapeInterner } from './shape-interner.js';

export interface RegistrationBatch {
  /** Increasing per process, in the order the batches were handed over (see tombstones in registration-sql.ts). */
  seq: number;
  /**
   * Subtracted from every row's registeredAt and stored beside it (registration-codec.ts):
   * the first put's lastUpdateAt, so a fresh registration's offset is a few digits.
   */
  timeBase: number;
  /** The link sets the rows' shapes name, [number, text]: written when absent. */
  links: Array<[number, string]>;
  /** The shapes the rows name, [number, text]: written when absent. */
  shapes: Array<[number, string]>;
  /**
   * In order: a string is a JSON array of KeyedRows to put (the same text as UTF-8 bytes
   * on its way to the writer thread, see registration-writer.ts); a string[] is endpoints
   * to delete.
   */
  steps: Array<string | Uint8Array | string[]>;
}

/** Where batches go when they are not written on the caller's thread (the writer thread). */
export interface RegistrationBatchSink {
  /** Resolves once the batch is committed; batches are written in the order of the calls. */
  write(batch: RegistrationBatch): Promise<void>;
}

/**
 * Rows per put step: the rows of a step are all alive until its JSON.stringify, and a
 * scavenge during a long encode would copy every one of them; short steps keep that small
 * (a step costs the writer one statement, a few microseconds; not measured apart from the
 * other changes of that round).
 */
export const ROWS_PER_STEP = 1024;

export function encodeBatch(seq: number, writes: readonly RegistrationWrite[], interner: ShapeInterner): RegistrationBatch {
  const definitions: Definitions = { links: [], shapes: [] };
  const steps: Array<string | Uint8Array | string[]> = [];
  let puts: KeyedRow[] = [];
  let deletes: string[] = [];
  let timeBase: number | undefined;
  for (const write of writes) {
    if (!isRegistrationDelete(write)) {
      if (deletes.length > 0) {
        steps.push(deletes);
        deletes = [];
      }
      const r = write;
      timeBase ??= r.lastUpdateAt;
      puts.push(toKeyedRow(r, interner.ref(r, seq, definitions), timeBase));
      if (puts.length === ROWS_PER_STEP) {
        steps.push(JSON.stringify(puts));
        puts = [];
      }
    } else {
      if (puts.length > 0) {
        steps.push(JSON.stringify(puts));
        puts = [];
      }
      deletes.push(write.endpoint);
    }
  }
  if (puts.length > 0) steps.push(JSON.stringify(puts));
  if (deletes.length > 0) steps.push(deletes);
  return { seq, timeBase: timeBase ?? 0, links: definitions.links, shapes: definitions.shapes, steps };
}
