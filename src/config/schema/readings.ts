import { z } from 'zod';
import {
  DEFAULT_JSON_FIELDS,
  PAYLOAD_FORMATS,
  type JsonFieldNames,
  type PayloadSettings,
} from '../../core/payloads/index.js';
import type { ReadingLimits } from '../../core/reading.js';
import { duration, positiveDuration } from './common.js';

const fieldNames = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
  .transform((v) => (typeof v === 'string' ? [v] : v));

/**
 * What vigil.readings carries and how it is read (core/payloads): the payload format, the fields of
 * JSON readings, the tag of line protocol; the sensors expected to report; and the clock records that
 * move stream time when nothing else comes.
 */
export const readingsSchema = z
  .object({
    /** auto (by the first character: `{` json, `[` senml, else line protocol), json, senml or line. */
    format: z.enum(PAYLOAD_FORMATS).default('auto'),
    /** JSON readings: which fields hold the sensor id, the time and the sequence number (first present wins). */
    json: z
      .object({ id: fieldNames.optional(), time: fieldNames.optional(), seq: fieldNames.optional() })
      .strict()
      .prefault({})
      .transform((j): JsonFieldNames => ({
        id: j.id ?? DEFAULT_JSON_FIELDS.id,
        time: j.time ?? DEFAULT_JSON_FIELDS.time,
        seq: j.seq ?? DEFAULT_JSON_FIELDS.seq,
      })),
    /** InfluxDB line protocol: the tag naming the sensor, and what timestamps count. */
    lineProtocol: z
      .object({
        sensorTag: z.string().min(1).default('sensor'),
        precision: z.enum(['ns', 'us', 'ms', 's']).default('ns'),
      })
      .strict()
      .prefault({}),
    /**
     * Labels of sensors, by globs of their ids: what rules' `sensorLabels` select by. Every entry whose
     * globs match a sensor adds its labels, a later entry's winning.
     */
    sensorLabels: z
      .array(
        z
          .object({
            sensors: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
            labels: z.record(z.string().min(1), z.string()),
          })
          .strict()
          .transform((e) => ({
            sensors: typeof e.sensors === 'string' ? [e.sensors] : e.sensors,
            labels: e.labels,
          })),
      )
      .default([]),
    /** Sensors expected to report: one that never does is alerted by the silence rules (also: vigil expect). */
    expected: z.array(z.string().min(1).max(4_096)).default([]),
    /**
     * Clock records: every `interval` of wall clock, one node appends one to every readings partition,
     * so stream time moves while nothing else comes (silence rules fire, idle windows close). 0: none
     * (for replaying readings of the past, whose event time is far behind the wall clock). A jump of
     * stream time longer than `gap` (nothing at all was written: Vigil or Kafka was down) starts the
     * silence timers again at its end.
     */
    clock: z
      .object({ interval: duration.default(5_000), gap: positiveDuration.default(60_000) })
      .strict()
      .prefault({})
      .refine((c) => c.interval === 0 || c.gap >= 2 * c.interval, {
        message: 'gap must be at least twice the interval: a late clock record is not a gap',
        path: ['gap'],
      })
      .transform((c) => ({ intervalMs: c.interval, gapMs: c.interval === 0 ? undefined : c.gap })),
  })
  .strict()
  .prefault({});

/** The payload settings the decoders read, with the limits every reading is held to. */
export function payloadSettings(r: z.output<typeof readingsSchema>, limits: ReadingLimits): PayloadSettings {
  return { format: r.format, json: r.json, lineProtocol: r.lineProtocol, limits };
}
