/**
 * A table of texts named by number (registration_links, registration_shapes): what the link
 * and shape interners share. A text gets a number the first time it is seen, until `limit`
 * texts are numbered; each batch carries the definition of every number it names once (so
 * a row never names a number that is not on disk, even after a failed batch); numbers that
 * were loaded but that nothing names any more can be forgotten.
 */
export interface NumberedText {
  readonly n: number;
  readonly text: string;
  /** The last batch that carried this definition; 0 = none of this process. */
  batch: number;
}

export class NumberedTexts {
  private readonly byText = new Map<string, NumberedText>();
  private next = 1;

  /** `stored`: the texts already in the table, [number, text]. */
  constructor(stored: Iterable<readonly [number, string]>, private readonly limit: number) {
    for (const [n, text] of stored) {
      if (!this.byText.has(text)) this.byText.set(text, { n, text, batch: 0 });
      if (n >= this.next) this.next = n + 1;
    }
  }

  /** The text's entry, numbered now if it is new; undefined when the table is full. */
  enter(text: string): NumberedText | undefined {
    let entry = this.byText.get(text);
    if (entry === undefined && this.byText.size < this.limit) {
      entry = { n: this.next++, text, batch: 0 };
      this.byText.set(text, entry);
    }
    return entry;
  }

  /** Adds the entry's definition to `definitions` unless batch `batch` already carries it. */
  define(entry: NumberedText, batch: number, definitions: Array<[number, string]>): void {
    if (entry.batch === batch) return;
    entry.batch = batch;
    definitions.push([entry.n, entry.text]);
  }

  /**
   * Forgets the loaded entries that no row names (`used`) and no batch of this process has
   * named; returns their numbers, for the caller to delete.
   */
  forgetUnused(used: ReadonlySet<number>): number[] {
    const unused: number[] = [];
    for (const [text, entry] of this.byText) {
      if (entry.batch === 0 && !used.has(entry.n)) {
        this.byText.delete(text);
        unused.push(entry.n);
      }
    }
    return unused;
  }

  get size(): number {
    return this.byText.size;
  }
}
