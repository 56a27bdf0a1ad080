import { z } from 'zod';
import type { Alert } from './outputs.js';
import { describeIssues, parseJsonValue, type DecodeResult } from './reading.js';
import { headerOf, UNDECODABLE_HEADER, type RawRecord } from './router.js';

/** Which alerts a subscriber wants. Empty lists match everything; every label given must match. */
export interface AlertFilter {
  readonly sensorIds: readonly string[];
  readonly ruleIds: readonly string[];
  readonly severities: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
}

/** Where a subscription starts: live (from now), after an alert id, or at an event time. */
export type AlertSince =
  | { readonly kind: 'live' }
  | { readonly kind: 'id'; readonly id: string }
  | { readonly kind: 'time'; readonly ts: number };

export const ALERT_ID = /^[0-9a-f]{32}$/;

const alertSchema = z.object({
  id: z.string().regex(ALERT_ID, 'must be 32 hex characters'),
  ruleId: z.string().min(1),
  kind: z.string(),
  sensorId: z.string().min(1),
  metric: z.string(),
  state: z.enum(['firing', 'resolved']),
  severity: z.enum(['info', 'warning', 'critical']),
  ts: z.number().int(),
  startedAt: z.number().int(),
  value: z.number(),
  message: z.string(),
  labels: z.record(z.string(), z.string()),
  report: z
    .object({
      window: z.string(),
      start: z.number().int(),
      end: z.number().int(),
      counts: z.record(z.string(), z.number()),
      lines: z.array(z.string()),
      linesOmitted: z.number().int().min(0),
    })
    .optional(),
});

/**
 * Decodes one vigil.alerts record: its alert, why it is none, or undefined for a record to pass over
 * without a word (the rest of a batch the Kafka client could not decompress: its first record says why).
 */
export function decodeAlertRecord(record: RawRecord): DecodeResult<Alert> | undefined {
  const undecodable = headerOf(record, UNDECODABLE_HEADER);
  if (undecodable === 'skip') return undefined;
  if (undecodable !== undefined) return { ok: false, reason: undecodable };
  return decodeAlert(record.value);
}

/** Decodes one vigil.alerts record value. Never throws. */
export function decodeAlert(raw: Buffer | string | null | undefined): DecodeResult<Alert> {
  const json = parseJsonValue(raw);
  if (!json.ok) return json;
  const parsed = alertSchema.safeParse(json.value);
  if (!parsed.success) return { ok: false, reason: `invalid alert: ${describeIssues(parsed.error)}` };
  const { report, ...alert } = parsed.data;
  return { ok: true, value: report === undefined ? alert : { ...alert, report } };
}

export function matchesFilter(alert: Alert, f: AlertFilter): boolean {
  if (f.sensorIds.length > 0 && !f.sensorIds.includes(alert.sensorId)) return false;
  if (f.ruleIds.length > 0 && !f.ruleIds.includes(alert.ruleId)) return false;
  if (f.severities.length > 0 && !f.severities.includes(alert.severity)) return false;
  for (const k in f.labels) if (alert.labels[k] !== f.labels[k]) return false;
  return true;
}

/**
 * One subscription's view of vigil.alerts, free of I/O. vigil.alerts has ONE partition, so every
 * subscriber sees alerts in one order and "after alert X" is a position, which is what makes a resume
 * from an id exact.
 *
 * The log itself may hold an alert twice (outputs are produced before the checkpoint that covers them,
 * so a replay after a crash produces them again, with the same deterministic id). The feed remembers
 * the ids of the last `horizon` records it read, the ones before the resume point included, and emits
 * each id once.
 *
 * State machine:
 *   seeking    since an id: reads from the start of the log, remembers ids, emits nothing.
 *              -> streaming when the record with the id is read.
 *              -> missing   when the end the log had at subscribe time is passed without it.
 *   streaming  emits every alert not seen before that matches the filter (and, since a time, whose
 *              event time is at or after it). Live and time subscriptions start here.
 */
export class AlertFeed {
  private state: 'seeking' | 'streaming';
  /** Insertion-ordered, so the oldest id is the first to go when the horizon is full. */
  private readonly seen = new Set<string>();

  constructor(
    private readonly since: AlertSince,
    private readonly filter: AlertFilter,
    private readonly horizon = 100_000,
  ) {
    this.state = since.kind === 'id' ? 'seeking' : 'streaming';
  }

  get seeking(): boolean {
    return this.state === 'seeking';
  }

  /** The alert to deliver for this record of the log, or undefined. Records must come in log order. */
  accept(alert: Alert): Alert | undefined {
    const repeat = this.seen.has(alert.id);
    if (!repeat) {
      this.seen.add(alert.id);
      if (this.seen.size > this.horizon) {
        const oldest = this.seen.values().next();
        if (oldest.done !== true) this.seen.delete(oldest.value);
      }
    }
    if (this.state === 'seeking') {
      if (this.since.kind === 'id' && alert.id === this.since.id) this.state = 'streaming';
      return undefined;
    }
    if (repeat) return undefined;
    if (this.since.kind === 'time' && alert.ts < this.since.ts) return undefined;
    return matchesFilter(alert, this.filter) ? alert : undefined;
  }

  /**
   * True once reading has reached `endAtSubscribe` (the log's end when the subscription began) while
   * still seeking: the id is not in the log (never produced, or removed by retention).
   */
  missing(nextOffset: bigint, endAtSubscribe: bigint): boolean {
    return this.state === 'seeking' && nextOffset >= endAtSubscribe;
  }
}
