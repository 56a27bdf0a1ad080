/**
 * A log source's time zone: UTC, a fixed offset (`+02:00`), or an IANA zone (`Europe/Paris`), whose
 * offset changes with daylight saving time. Lines carry local times; this turns them into instants.
 */
export interface TimeZone {
  readonly name: string;
  /** Minutes east of UTC at the instant `utcMs`. */
  offsetAt(utcMs: number): number;
}

const FIXED = /^([+-])(\d{2}):?(\d{2})$/;

/** "+02:00", "-0530", "Z" or "UTC" as minutes east of UTC; undefined when not an offset. */
export function parseUtcOffset(text: string): number | undefined {
  if (text === 'Z' || text.toUpperCase() === 'UTC') return 0;
  const m = FIXED.exec(text);
  if (m === null) return undefined;
  const [, sign, hh = '0', mm = '0'] = m;
  const minutes = Number(hh) * 60 + Number(mm);
  if (Number(hh) > 14 || Number(mm) > 59) return undefined;
  return sign === '-' ? -minutes : minutes;
}

export const fixedZone = (offsetMinutes: number): TimeZone => ({
  name: offsetMinutes === 0 ? 'UTC' : `${offsetMinutes} min`,
  offsetAt: () => offsetMinutes,
});

/** A zone by name: an offset, UTC, or an IANA zone this Node.js knows; undefined otherwise. */
export function parseTimeZone(text: string): TimeZone | undefined {
  const fixed = parseUtcOffset(text);
  if (fixed !== undefined) return { ...fixedZone(fixed), name: text };
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: text,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch {
    return undefined;
  }
  return {
    name: text,
    offsetAt(utcMs) {
      const parts: Record<string, number> = {};
      for (const p of format.formatToParts(new Date(utcMs)))
        if (p.type !== 'literal') parts[p.type] = Number(p.value);
      const { year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0 } = parts;
      const local = Date.UTC(year, month - 1, day, hour, minute, second);
      return Math.round((local - (utcMs - (((utcMs % 1000) + 1000) % 1000))) / 60_000);
    },
  };
}

/**
 * The instant of a local time (ms since 1970 as if the zone were UTC), with the offset in force at
 * that instant. In the hour a daylight saving change repeats or skips, the offset before the change
 * may be taken: lines of that hour can be placed an hour off.
 */
export function localToUtc(localMs: number, zone: TimeZone): number {
  const guess = localMs - zone.offsetAt(localMs) * 60_000;
  return localMs - zone.offsetAt(guess) * 60_000;
}
