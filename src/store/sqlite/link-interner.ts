/**
 * Numbers the object-link sets of registrations (table registration_links), so a shape
 * (shape-interner.ts; and a row written before shapes) names its device type's links in a
 * few bytes instead of repeating their text, often hundreds of bytes: smaller rows are
 * fewer pages to write per flush.
 *
 * Every batch carries the definitions of the sets its rows name (written if absent), so a
 * row never names a set that is not on disk, even after a failed batch. The number of sets
 * is bounded: past the limit (a fleet of unique payloads) a row holds its links as text,
 * as an un-numbered row would.
 */
import type { WebLink } from '../../lwm2m/link-format.js';
import { linksToText } from '../registration-codec.js';
import { NumberedTexts, type NumberedText } from './numbered-texts.js';

/** Far above the number of device types of a fleet; the same bound as the links parse cache. */
export const MAX_LINK_SETS = 4096;

export class LinkInterner {
  // A text (string) when the set is stored inline because the table was full.
  private readonly byArray = new WeakMap<readonly WebLink[], NumberedText | string>();
  private readonly sets: NumberedTexts;
  // Devices of one type share one links array, and a batch is mostly one or a few types:
  // the last answer saves the WeakMap lookup on most rows.
  private lastArray: readonly WebLink[] | undefined;
  private lastSet: NumberedText | string | undefined;

  /** `stored`: the sets already in the table, [number, text]. */
  constructor(stored: Iterable<readonly [number, string]>, limit = MAX_LINK_SETS) {
    this.sets = new NumberedTexts(stored, limit);
  }

  /**
   * What a row of batch `batch` stores for these links: the set's number, its definition
   * added to `definitions` the first time the batch names it; or the text when the table is full.
   */
  ref(links: readonly WebLink[], batch: number, definitions: Array<[number, string]>): number | string {
    let set = links === this.lastArray ? this.lastSet : this.byArray.get(links);
    if (set === undefined) {
      const text = linksToText(links);
      set = this.sets.enter(text) ?? text;
      this.byArray.set(links, set);
    }
    this.lastArray = links;
    this.lastSet = set;
    if (typeof set === 'string') return set;
    this.sets.define(set, batch, definitions);
    return set.n;
  }

  /** See NumberedTexts.forgetUnused. */
  forgetUnused(used: ReadonlySet<number>): number[] {
    return this.sets.forgetUnused(used);
  }

  /** How many sets are numbered (for tests and diagnostics). */
  size(): number {
    return this.sets.size;
  }
}
