/**
 * Firmware versions compared as dotted numbers ("1.10.2" > "1.9"); a non-numeric part
 * compares as text. Ranges are space-separated comparators that must all hold:
 * ">=1.0.0 <2.0.0", "=1.4.2", "1.4.2" (equality), "*" (any).
 */
export function compareVersions(a: string, b: string): number {
  const pa = a.replace(/^v/i, '').split(/[.+-]/);
  const pb = b.replace(/^v/i, '').split(/[.+-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '0';
    const y = pb[i] ?? '0';
    const nx = /^\d+$/.test(x) ? Number(x) : NaN;
    const ny = /^\d+$/.test(y) ? Number(y) : NaN;
    if (!Number.isNaN(nx) && !Number.isNaN(ny)) {
      if (nx !== ny) return nx < ny ? -1 : 1;
    } else if (x !== y) {
      return x < y ? -1 : 1;
    }
  }
  return 0;
}

type Op = '<' | '<=' | '>' | '>=' | '=';
export type VersionRange = ReadonlyArray<{ op: Op; version: string }>;

export function parseVersionRange(text: string): VersionRange {
  const trimmed = text.trim();
  if (trimmed === '' ) throw new Error('an empty version range');
  if (trimmed === '*') return [];
  return trimmed.split(/\s+/).map((token) => {
    const match = /^(<=|>=|<|>|=)?([0-9A-Za-z][0-9A-Za-z.+-]*)$/.exec(token);
    if (!match) throw new Error(`"${token}" is not a version comparator such as ">=1.2.0"`);
    return { op: (match[1] ?? '=') as Op, version: match[2] };
  });
}

export function versionInRange(version: string, range: VersionRange): boolean {
  return range.every(({ op, version: bound }) => {
    const c = compareVersions(version, bound);
    switch (op) {
      case '<':
        return c < 0;
      case '<=':
        return c <= 0;
      case '>':
        return c > 0;
      case '>=':
        return c >= 0;
      default:
        return c === 0;
    }
  });
}
