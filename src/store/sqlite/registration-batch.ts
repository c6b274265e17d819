/**
 * A batch of registration writes as it travels to the writer thread: a few strings, so
 * the copy between threads is a memory copy, not a structured clone of thousands of
 * objects. The rows are encoded once, here, by one JSON.stringify per run of puts: an
 * array of rows with the endpoint in front, which SQLite walks with jsonb_each
 * (registration-sql.ts). (Not an object keyed by endpoint: V8 would internalise every
 * endpoint string to make it a property name, which costs more than the array.)
 */
import { toKeyedRow, type KeyedRow } from '../registration-codec.js';
import type { RegistrationWrite } from '../types.js';
import type { LinkInterner } from './link-interner.js';

export interface RegistrationBatch {
  /** Increasing per process, in the order the batches were handed over (see tombstones in registration-sql.ts). */
  seq: number;
  /** The link sets the rows name, [number, text]: written when absent. */
  links: Array<[number, string]>;
  /** In order: a string is a JSON array of KeyedRows to put; a string[] is endpoints to delete. */
  steps: Array<string | string[]>;
}

/** Where batches go when they are not written on the caller's thread (the writer thread). */
export interface RegistrationBatchSink {
  /** Resolves once the batch is committed; batches are written in the order of the calls. */
  write(batch: RegistrationBatch): Promise<void>;
}

export function encodeBatch(seq: number, writes: readonly RegistrationWrite[], interner: LinkInterner): RegistrationBatch {
  const links: Array<[number, string]> = [];
  const steps: Array<string | string[]> = [];
  let puts: KeyedRow[] = [];
  let deletes: string[] = [];
  for (const write of writes) {
    if (write.op === 'put') {
      if (deletes.length > 0) {
        steps.push(deletes);
        deletes = [];
      }
      const r = write.registration;
      puts.push(toKeyedRow(r, interner.ref(r.objectLinks, seq, links)));
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
  return { seq, links, steps };
}
