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

/** Far above the number of device types of a fleet; the same bound as the links parse cache. */
export const MAX_LINK_SETS = 4096;

interface LinkSet {
  readonly n: number;
  readonly text: string;
  /** The last batch that carried this set's definition; 0 = none of this process. */
  batch: number;
}

export class LinkInterner {
  // A text (string) when the set is stored inline because the table was full.
  private readonly byArray = new WeakMap<readonly WebLink[], LinkSet | string>();
  private readonly byText = new Map<string, LinkSet>();
  private next = 1;
  // Devices of one type share one links array, and a batch is mostly one or a few types:
  // the last answer saves the WeakMap lookup on most rows.
  private lastArray: readonly WebLink[] | undefined;
  private lastSet: LinkSet | string | undefined;

  /** `stored`: the sets already in the table, [number, text]. */
  constructor(stored: Iterable<readonly [number, string]>, private readonly limit = MAX_LINK_SETS) {
    for (const [n, text] of stored) {
      if (!this.byText.has(text)) this.byText.set(text, { n, text, batch: 0 });
      if (n >= this.next) this.next = n + 1;
    }
  }

  /**
   * What a row of batch `batch` stores for these links: the set's number, its definition
   * added to `definitions` the first time the batch names it; or the text when the table is full.
   */
  ref(links: readonly WebLink[], batch: number, definitions: Array<[number, string]>): number | string {
    let set = links === this.lastArray ? this.lastSet : this.byArray.get(links);
    if (set === undefined) set = this.enter(links);
    this.lastArray = links;
    this.lastSet = set;
    if (typeof set === 'string') return set;
    if (set.batch !== batch) {
      set.batch = batch;
      definitions.push([set.n, set.text]);
    }
    return set.n;
  }

  /**
   * Forgets the loaded sets that no row names (`used`) and no batch of this process has
   * named; returns their numbers, for the caller to delete.
   */
  forgetUnused(used: ReadonlySet<number>): number[] {
    const unused: number[] = [];
    for (const [text, set] of this.byText) {
      if (set.batch === 0 && !used.has(set.n)) {
        this.byText.delete(text);
        unused.push(set.n);
      }
    }
    return unused;
  }

  /** How many sets are numbered (for tests and diagnostics). */
  size(): number {
    return this.byText.size;
  }

  private enter(links: readonly WebLink[]): LinkSet | string {
    const text = linksToText(links);
    let set: LinkSet | string | undefined = this.byText.get(text);
    if (set === undefined) {
      if (this.byText.size >= this.limit) {
        set = text;
      } else {
        set = { n: this.next++, text, batch: 0 };
        this.byText.set(text, set);
      }
    }
    this.byArray.set(links, set);
    return set;
  }
}
