/**
 * One way to read a point in time, for everything a person or a device writes: HTTP and gRPC
 * requests, the CLI, and the event times of readings. Epoch milliseconds, or `2026-11-23 15:12:00`
 * / ISO 8601 (RFC 3339) `2026-11-23T15:12:00[.123][Z|+02:00]`, in UTC unless it carries an offset.
 * Nothing else (no `01/13/2020`, no bare year, no local time zone: a reading must mean the same
 * whichever machine reads it), and no impossible date (`2020-02-30`): undefined then.
 *
 * `fractionDigits`: the most digits the seconds' fraction may have. Requests take milliseconds (3);
 * devices write micro- and nanoseconds (RFC 3339 allows any), which are cut to the millisecond.
 */
export function parseInstant(value: unknown, fractionDigits = 3): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = INSTANT.exec(value.trim());
  if (m === null || (m[7] ?? '').length > fractionDigits) return undefined;
  const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((k) => Number(m[k] ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const ms = Number((m[7] ?? '0').slice(0, 3).padEnd(3, '0'));
  const utc = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const check = new Date(utc);
  // Date.UTC rolls 2020-02-30 over to March: a date that does not come back as written is impossible.
  if (check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || h > 23 || mi > 59 || s > 59)
    return undefined;
  const zone = m[8];
  if (zone === undefined || zone === 'Z' || zone === 'z') return utc;
  const sign = zone.startsWith('-') ? -1 : 1;
  const offset = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
  return utc - offset;
}

const INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})[ Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?([Zz]|[+-]\d{2}:\d{2})?$/;

/** The forms parseInstant reads, for the message refusing any other. */
export const INSTANT_FORMS =
  'a time such as "2026-11-23 15:12:00" (UTC), "2026-11-23T15:12:00+01:00" or epoch milliseconds (a real date)';

/** A point in time given as text on a command line: epoch milliseconds or parseInstant's forms. */
export function parseInstantText(text: string): number | undefined {
  return /^\d+$/.test(text.trim()) ? parseInstant(Number(text.trim())) : parseInstant(text);
}
