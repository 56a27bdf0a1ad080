import { describeJsonError } from '../json-error.js';
import {
  DEFAULT_READING_LIMITS,
  plainReading,
  readingProblem,
  type Reading,
  type ReadingLimits,
} from '../reading.js';
import type { DecodedPayload, JsonFieldNames, LinePrecision, PayloadContext } from './common.js';
import { jsonReading } from './json.js';
import { lineProtocolReadings } from './line-protocol.js';
import { senmlReadings } from './senml.js';

/**
 * The payloads devices and collectors send, read into readings: the same decoders on the MQTT bridge
 * and on vigil.readings. Pure: no I/O, no clock (the time a payload was received is given).
 *
 *   json   a JSON object: Vigil's `{"sensorId", "ts", "values": {...}, "seq"}`, or flat fields
 *          (`{"temperature": 21.5, "humidity": 40}`: every numeric field other than the id, time and
 *          seq fields is a metric); several objects one per line (JSON lines) are several readings
 *   senml  a SenML pack (RFC 8428, JSON): the sensor from the base name, a metric per record name
 *   line   InfluxDB line protocol (Telegraf's default): a reading per line, the sensor from a tag
 *   auto   by the payload's first character: `{` json, `[` senml, anything else line protocol
 *
 * A payload that names no sensor takes the one its context gives (the MQTT topic's level, or the
 * Kafka record's key); one that gives no time takes the time it was received (the bridge's clock,
 * or the record's broker time). What cannot be read is reported part by part, each naming the format
 * and the position (`line protocol: line 3, column 17: ...`), and the rest is still read.
 */
export const PAYLOAD_FORMATS = ['auto', 'json', 'senml', 'line'] as const;
export type PayloadFormat = (typeof PAYLOAD_FORMATS)[number];

export interface PayloadSettings {
  readonly format: PayloadFormat;
  readonly json: JsonFieldNames;
  readonly lineProtocol: { readonly sensorTag: string; readonly precision: LinePrecision };
  readonly limits: ReadingLimits;
}

export type { DecodedPayload, JsonFieldNames, LinePrecision, PayloadContext };

export const DEFAULT_JSON_FIELDS: JsonFieldNames = {
  id: ['sensorId', 'sensor_id', 'deviceId', 'device_id', 'sensor', 'device', 'id'],
  time: ['ts', 'time', 'timestamp'],
  seq: ['seq'],
};

/** The shipped settings: every format detected, the default fields and limits. */
export const DEFAULT_PAYLOAD_SETTINGS: PayloadSettings = {
  format: 'auto',
  json: DEFAULT_JSON_FIELDS,
  lineProtocol: { sensorTag: 'sensor', precision: 'ns' },
  limits: DEFAULT_READING_LIMITS,
};

const nothing = (error: string): DecodedPayload => ({ readings: [], errors: [error] });

/** Reads one payload. Never throws: what it cannot read comes back in `errors`. */
export function decodePayload(
  raw: Buffer | string | null | undefined,
  s: PayloadSettings,
  ctx: PayloadContext = {},
): DecodedPayload {
  const size =
    raw === null || raw === undefined ? 0 : typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (size === 0) return nothing('empty record value');
  if (size > s.limits.maxRecordBytes)
    return nothing(`record of ${size} bytes is over limits.maxRecordBytes (${s.limits.maxRecordBytes})`);
  let text = typeof raw === 'string' ? raw : (raw as Buffer).toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') return nothing('empty record value');
  const format = s.format === 'auto' ? detect(text) : s.format;
  switch (format) {
    case 'json':
      return checked(jsonPayload(text, s, ctx), s.limits, 'json');
    case 'senml':
      return checked(senmlReadings(text, ctx), s.limits, 'senml');
    case 'line':
      return checked(lineProtocolReadings(text, s.lineProtocol, ctx), s.limits, 'line protocol');
  }
}

/** `{` json, `[` senml, anything else line protocol (its first character is a measurement's). */
export function detect(text: string): Exclude<PayloadFormat, 'auto'> {
  const first = /\S/.exec(text)?.[0];
  return first === '{' ? 'json' : first === '[' ? 'senml' : 'line';
}

/**
 * Readings past a limit leave the payload's readings for its errors. A payload of one reading (the
 * common case) says `invalid reading: <why>`, as it always has; in one of several, which one it was.
 */
function checked(d: DecodedPayload, limits: ReadingLimits, format: string): DecodedPayload {
  // A payload that says nothing (an empty pack, comments only) is still reported: nothing accepted vanishes.
  if (d.readings.length === 0)
    return d.errors.length > 0 ? d : nothing(`${format}: the payload holds no reading with a numeric value`);
  const readings: Reading[] = [];
  const errors = [...d.errors];
  const several = d.readings.length + d.errors.length > 1;
  d.readings.forEach((r, i) => {
    const problem = readingProblem(r, limits);
    if (problem === undefined) readings.push(r);
    else if (!several) errors.push(`invalid reading: ${problem}`);
    else errors.push(`${format}: reading ${i + 1} (${r.sensorId.slice(0, 64)}): invalid reading: ${problem}`);
  });
  return { readings, errors };
}

/** A JSON object, or JSON lines: one object per line. */
function jsonPayload(text: string, s: PayloadSettings, ctx: PayloadContext): DecodedPayload {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return text.trim().includes('\n') ? jsonLines(text, s, ctx) : nothing(describeJsonError(text));
  }
  // Vigil's own readings, the common case, without a copy (reading.ts plainReading).
  const plain = plainReading(value, s.limits);
  if (plain !== undefined) return { readings: [plain], errors: [] };
  const r = jsonReading(value, s.json, ctx);
  return typeof r === 'string' ? nothing(`invalid reading: ${r}`) : { readings: [r], errors: [] };
}

function jsonLines(text: string, s: PayloadSettings, ctx: PayloadContext): DecodedPayload {
  const readings: Reading[] = [];
  const errors: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      errors.push(`json: line ${i + 1}: ${describeJsonError(line)}`);
      return;
    }
    const r = plainReading(value, s.limits) ?? jsonReading(value, s.json, ctx);
    if (typeof r === 'string') errors.push(`json: line ${i + 1}: invalid reading: ${r}`);
    else readings.push(r);
  });
  return { readings, errors };
}

/**
 * Readings as Vigil writes them on vigil.readings: one JSON object per reading, a line each. What the
 * bridge produces, and what a reading forwarded to its sensor's own partition carries.
 */
export function encodeReadings(readings: readonly Reading[]): string {
  return readings
    .map((r) =>
      JSON.stringify(
        r.seq === undefined
          ? { sensorId: r.sensorId, ts: r.ts, values: r.values }
          : { sensorId: r.sensorId, ts: r.ts, values: r.values, seq: r.seq },
      ),
    )
    .join('\n');
}
