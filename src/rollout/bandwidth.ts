/**
 * Sharing a byte budget between transfers (water-filling): each gets an equal share, but
 * never more than it can use (its estimated link rate); what a slow one cannot use goes to
 * the others. So the measured total is the budget whenever the links can carry it.
 */
export function shareBandwidth(budget: number, caps: readonly number[]): number[] {
  const rates = new Array<number>(caps.length).fill(0);
  let left = budget;
  let open = caps.map((_, i) => i);
  while (open.length > 0 && left > 1e-9) {
    const share = left / open.length;
    const still: number[] = [];
    let given = 0;
    for (const i of open) {
      const room = caps[i] - rates[i];
      if (room <= share) {
        rates[i] += room;
        given += room;
      } else {
        still.push(i);
      }
    }
    if (still.length === open.length) {
      for (const i of open) rates[i] += share;
      break;
    }
    left -= given;
    open = still;
  }
  return rates;
}
