/**
 * A request's Uri-Query items ("ep=dev1", "lt=300", "Q"), read in place: `get('lt')` finds
 * the item that starts with "lt=" instead of first splitting every item into a name and a
 * value and filling a Map. A registration carries four to six items and asks for five names,
 * so a scan is cheaper than building the Map was (a twentieth of the registration path).
 */
export class QueryParams {
  private constructor(private readonly items: readonly string[]) {}

  /** Returns the params, or the name of the first parameter given twice. */
  static read(items: readonly string[]): QueryParams | { duplicate: string } {
    for (let i = 1; i < items.length; i++) {
      const nameEnd = nameLength(items[i]);
      for (let j = 0; j < i; j++) {
        if (nameLength(items[j]) === nameEnd && samePrefix(items[i], items[j], nameEnd)) {
          return { duplicate: items[i].substring(0, nameEnd) };
        }
      }
    }
    return new QueryParams(items);
  }

  /** The value of `name`; `true` for an item without "=" (a flag such as Q); undefined when absent. */
  get(name: string): string | true | undefined {
    for (const item of this.items) {
      if (!item.startsWith(name)) continue;
      if (item.length === name.length) return true;
      if (item.charCodeAt(name.length) === EQUALS) return item.substring(name.length + 1);
    }
    return undefined;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }
}

const EQUALS = 0x3d;

function nameLength(item: string): number {
  const eq = item.indexOf('=');
  return eq < 0 ? item.length : eq;
}

function samePrefix(a: string, b: string, length: number): boolean {
  for (let k = 0; k < length; k++) if (a.charCodeAt(k) !== b.charCodeAt(k)) return false;
  return true;
}
