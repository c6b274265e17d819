/** The medians the benchmarks report: each goal's ratio is the median of several rounds. */

/** The median of the values (the mean of the two middle ones for an even count); undefined when empty. */
export function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The median round itself, by `value` (for an even count, the upper of the two middle ones), so its other figures can be reported with it. */
export function medianBy<T>(items: readonly T[], value: (item: T) => number): T {
  if (items.length === 0) throw new Error('no rounds to take the median of');
  return [...items].sort((a, b) => value(a) - value(b))[Math.floor(items.length / 2)];
}
