/**
 * A batch of registration writes as it travels to the writer thread: a few strings, so
 * the copy between threads is a memory copy, not a structured clone of thousands of
 * objects. The writes are encoded once, here, by one JSON.stringify per step: an array of
 * log rows, each a put ([endpoint, ...stored row], registration-codec.ts) or a delete
 * ([endpoint]). A step becomes one entry of the registration log (registration-sql.ts).
 * (Not an object keyed by endpoint: V8 would internalise every endpoint string to make it
 * a property name, which costs more than the array.)
 */
import { toKeyedRow, type KeyedRow } from '../registration-codec.js';
import { isRegistrationPut, type RegistrationWrite } from '../types.js';
import type { Definitions, ShapeInterner } from './shape-interner.js';

/** A row of the log: a put, or a delete (the endpoint alone). */
export type LogRow = KeyedRow | [endpoint: string];

export interface RegistrationBatch {
  /** Where the batch's entries go in the log (column pos): increasing in the order the batches were handed over. */
  pos: number;
  /**
   * Subtracted from every put's registeredAt and stored beside it (registration-codec.ts):
   * the first put's lastUpdateAt, so a fresh registration's offset is a few digits.
   */
  timeBase: number;
  /** The link sets the rows' shapes name, [number, text]: written when absent. */
  links: Array<[number, string]>;
  /** The shapes the rows name, [number, text]: written when absent. */
  shapes: Array<[number, string]>;
  /**
   * Log entries, in order: each a JSON array of LogRows (the same text as UTF-8 bytes on
   * its way to the writer thread, see registration-writer.ts).
   */
  steps: Array<string | Uint8Array>;
  /**
   * Set when the batch ends a rewrite: once it is written, the log entries before this
   * position go, and so do the rows of the old one-row-per-endpoint table.
   */
  dropBefore?: number;
}

/** Where batches go when they are not written on the caller's thread (the writer thread). */
export interface RegistrationBatchSink {
  /** Resolves once the batch is committed; batches are written in the order of the calls. */
  write(batch: RegistrationBatch): Promise<void>;
}

/** A batch with what its caller needs to know about it. */
export interface EncodedBatch {
  batch: RegistrationBatch;
  /** Puts and deletes in it. */
  rows: number;
  /** Whether a rewrite begins in it / ends in it (the marks themselves are not rows). */
  rewriteBegins: boolean;
  rewriteEnds: boolean;
}

/**
 * Rows per step: the rows of a step are all alive until its JSON.stringify, and a
 * scavenge during a long encode would copy every one of them; short steps keep that small
 * (a step costs the writer one insert).
 */
export const ROWS_PER_STEP = 1024;

/** `seq`: the batch's number in this process (the interner defines a shape once per batch). */
export function encodeBatch(seq: number, pos: number, writes: readonly RegistrationWrite[], interner: ShapeInterner): EncodedBatch {
  const definitions: Definitions = { links: [], shapes: [] };
  const steps: string[] = [];
  let rows: LogRow[] = [];
  let count = 0;
  let rewriteBegins = false;
  let rewriteEnds = false;
  let timeBase: number | undefined;
  for (const write of writes) {
    if (isRegistrationPut(write)) {
      timeBase ??= write.lastUpdateAt;
      rows.push(toKeyedRow(write, interner.ref(write, seq, definitions), timeBase));
    } else if (write.op === 'delete') {
      rows.push([write.endpoint]);
    } else {
      if (write.op === 'rewrite-begin') rewriteBegins = true;
      else rewriteEnds = true;
      continue;
    }
    count++;
    if (rows.length === ROWS_PER_STEP) {
      steps.push(JSON.stringify(rows));
      rows = [];
    }
  }
  if (rows.length > 0) steps.push(JSON.stringify(rows));
  const batch: RegistrationBatch = { pos, timeBase: timeBase ?? 0, links: definitions.links, shapes: definitions.shapes, steps };
  return { batch, rows: count, rewriteBegins, rewriteEnds };
}
