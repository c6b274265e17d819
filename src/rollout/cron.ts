/**
 * Maintenance windows as cron expressions: "minute hour day-of-month month day-of-week",
 * each field "*", a number, a range "a-b", a list "a,b", with an optional step "/n".
 * A minute matching the expression is inside the window ("* 1-4 * * *" = 01:00–04:59).
 * As in cron, when both day fields are restricted a day matches if either does.
 */
export interface CronExpression {
  readonly source: string;
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly days: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  readonly weekdays: ReadonlySet<number>;
  readonly dayRestricted: boolean;
  readonly weekdayRestricted: boolean;
}

export class CronSyntaxError extends Error {
  override readonly name = 'CronSyntaxError';
}

const FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day of week', min: 0, max: 7 },
] as const;

export function parseCron(source: string): CronExpression {
  const parts = source.trim().split(/\s+/);
  if (parts.length !== 5) throw new CronSyntaxError(`"${source}" must have 5 fields (minute hour day month weekday), it has ${parts.length}`);
  const sets = parts.map((part, i) => parseField(part, FIELDS[i], source));
  // 7 is Sunday too.
  if (sets[4].has(7)) sets[4].add(0);
  return {
    source,
    minutes: sets[0],
    hours: sets[1],
    days: sets[2],
    months: sets[3],
    weekdays: sets[4],
    dayRestricted: parts[2] !== '*',
    weekdayRestricted: parts[4] !== '*',
  };
}

function parseField(text: string, field: (typeof FIELDS)[number], source: string): Set<number> {
  const values = new Set<number>();
  for (const item of text.split(',')) {
    const match = /^(\*|\d+(?:-\d+)?)(?:\/(\d+))?$/.exec(item);
    if (!match) throw new CronSyntaxError(`"${source}": ${field.name} field "${text}" is not "*", a number, a range or a list`);
    let from: number = field.min;
    let to: number = field.max;
    if (match[1] !== '*') {
      const [a, b] = match[1].split('-').map(Number);
      from = a;
      to = b ?? a;
      if (match[2] !== undefined && b === undefined) to = field.max;
    }
    const step = match[2] === undefined ? 1 : Number(match[2]);
    if (from < field.min || to > field.max || from > to) {
      throw new CronSyntaxError(`"${source}": ${field.name} "${item}" is outside ${field.min}-${field.max}`);
    }
    if (step < 1) throw new CronSyntaxError(`"${source}": step "/${match[2]}" must be 1 or more`);
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return values;
}

export interface LocalTime {
  minute: number;
  hour: number;
  day: number;
  month: number;
  weekday: number;
}

export function cronMatches(cron: CronExpression, t: LocalTime): boolean {
  if (!cron.minutes.has(t.minute) || !cron.hours.has(t.hour) || !cron.months.has(t.month)) return false;
  const dayOk = cron.days.has(t.day);
  const weekdayOk = cron.weekdays.has(t.weekday);
  if (cron.dayRestricted && cron.weekdayRestricted) return dayOk || weekdayOk;
  return dayOk && weekdayOk;
}

/**
 * Local time of an instant in an IANA timezone. Formatting is costly, so results are kept
 * per (timezone, minute): a tick asks for thousands of devices that share a few zones.
 */
export class LocalTimeCache {
  private minute = -1;
  private readonly byZone = new Map<string, LocalTime | null>();
  private readonly formatters = new Map<string, Intl.DateTimeFormat | null>();

  at(timeMs: number, timezone: string): LocalTime | undefined {
    const minute = Math.floor(timeMs / 60_000);
    if (minute !== this.minute) {
      this.minute = minute;
      this.byZone.clear();
    }
    let local = this.byZone.get(timezone);
    if (local === undefined) {
      local = this.compute(minute * 60_000, timezone);
      this.byZone.set(timezone, local);
    }
    return local ?? undefined;
  }

  private compute(timeMs: number, timezone: string): LocalTime | null {
    let formatter = this.formatters.get(timezone);
    if (formatter === undefined) {
      try {
        formatter = new Intl.DateTimeFormat('en-US', {
          timeZone: timezone,
          hourCycle: 'h23',
          minute: 'numeric',
          hour: 'numeric',
          day: 'numeric',
          month: 'numeric',
          weekday: 'short',
        });
      } catch {
        formatter = null;
      }
      this.formatters.set(timezone, formatter);
    }
    if (!formatter) return null;
    const parts: Record<string, string> = {};
    for (const part of formatter.formatToParts(new Date(timeMs))) parts[part.type] = part.value;
    const weekdays = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
    return {
      minute: Number(parts.minute),
      hour: Number(parts.hour) % 24,
      day: Number(parts.day),
      month: Number(parts.month),
      weekday: weekdays.indexOf(parts.weekday),
    };
  }
}

/** Whether starting at `timeMs` is allowed: no windows = always; an unknown timezone reads as UTC. */
export function insideMaintenanceWindow(windows: readonly CronExpression[], timeMs: number, timezone: string, cache: LocalTimeCache): boolean {
  if (windows.length === 0) return true;
  const local = cache.at(timeMs, timezone) ?? cache.at(timeMs, 'UTC')!;
  return windows.some((cron) => cronMatches(cron, local));
}
