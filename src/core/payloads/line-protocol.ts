import type { Reading } from '../reading.js';
import { setMetric, type DecodedPayload, type LinePrecision, type PayloadContext } from './common.js';

/**
 * InfluxDB line protocol (what Telegraf writes to MQTT and Kafka by default), a reading per line:
 *
 *   weather,sensor=st-7,site=north temperature=21.5,humidity=40i,door=false 1732350000123000000
 *
 * The sensor is the tag `sensorTag` (else the payload's context); each numeric field is a metric:
 * floats, integers (`40i`, `40u`) and booleans (1 or 0); string fields are passed over. A field named
 * `value` takes the measurement's name (`temperature,sensor=st-7 value=21.5`, InfluxDB's own form
 * for one value per measurement). The timestamp counts `precision` units since 1970 (nanoseconds by
 * default); a line without one takes the time the payload was received. Empty lines and `#` comments
 * are skipped. Escapes as InfluxDB has them: `\,` `\ ` `\=` in names, tags and keys, `\"` `\\` in
 * string values.
 */
export function lineProtocolReadings(
  text: string,
  o: { readonly sensorTag: string; readonly precision: LinePrecision },
  ctx: PayloadContext,
): DecodedPayload {
  const readings: Reading[] = [];
  const errors: string[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const parsed = parseLine(line);
    const where = `line protocol: line ${i + 1}`;
    if ('error' in parsed) {
      errors.push(`${where}, column ${parsed.column}: ${parsed.error}`);
      return;
    }
    const sensorId = parsed.tags.get(o.sensorTag) ?? ctx.sensorId;
    if (sensorId === undefined) {
      errors.push(
        `${where}: no sensor id: no tag "${o.sensorTag}", and no MQTT topic or record key names one`,
      );
      return;
    }
    const ts = parsed.timestamp === undefined ? ctx.receivedAt : toMillis(parsed.timestamp, o.precision);
    if (ts === undefined) {
      errors.push(`${where}: no timestamp`);
      return;
    }
    const values: Record<string, number> = {};
    for (const [key, v] of parsed.fields) {
      if (typeof v === 'string') continue;
      const refused = setMetric(
        values,
        key === 'value' ? parsed.measurement : key,
        typeof v === 'boolean' ? Number(v) : v,
      );
      if (refused !== undefined) {
        errors.push(`${where}: ${refused}`);
        return;
      }
    }
    if (Object.keys(values).length === 0) {
      errors.push(`${where}: no numeric field (string fields are not metrics)`);
      return;
    }
    readings.push({ sensorId, ts, values });
  });
  return { readings, errors };
}

const PER_MS: Readonly<Record<LinePrecision, bigint>> = { ns: 1_000_000n, us: 1_000n, ms: 1n, s: 0n };

function toMillis(t: bigint, precision: LinePrecision): number {
  if (precision === 's') return Number(t * 1000n);
  const per = PER_MS[precision];
  // Floor, not truncation toward zero: a time before 1970 stays in its own millisecond.
  const q = t / per;
  return Number(t < 0n && q * per !== t ? q - 1n : q);
}

interface ParsedLine {
  readonly measurement: string;
  readonly tags: Map<string, string>;
  readonly fields: [string, number | boolean | string][];
  readonly timestamp: bigint | undefined;
}

type Fault = { readonly error: string; readonly column: number };

/** One line: measurement[,tag=value...] field=value[,field=value...] [timestamp]. */
export function parseLine(line: string): ParsedLine | Fault {
  const c = new Cursor(line);
  const measurement = c.token(',', ' ');
  if (measurement === '') return c.fault('a line starts with its measurement name');
  const tags = new Map<string, string>();
  while (c.peek() === ',') {
    c.next();
    const key = c.token('=', ',', ' ');
    if (key === '' || c.peek() !== '=') return c.fault('a tag is key=value');
    c.next();
    const value = c.token(',', ' ');
    if (value === '') return c.fault(`tag "${key}" has no value`);
    tags.set(key, value);
  }
  if (c.peek() !== ' ') return c.fault('a space before the fields');
  c.skipSpaces();
  const fields: [string, number | boolean | string][] = [];
  for (;;) {
    const key = c.token('=', ',', ' ');
    if (key === '' || c.peek() !== '=') return c.fault('a field is key=value');
    c.next();
    const at = c.column;
    const value = c.peek() === '"' ? c.quoted() : fieldValue(c.token(',', ' '));
    if (value === undefined)
      return { error: `field "${key}": not a number, an integer (40i), a boolean or a "string"`, column: at };
    fields.push([key, value]);
    if (c.peek() !== ',') break;
    c.next();
  }
  c.skipSpaces();
  if (c.atEnd()) return { measurement, tags, fields, timestamp: undefined };
  const at = c.column;
  const stamp = c.token(' ');
  c.skipSpaces();
  if (!/^-?\d{1,19}$/.test(stamp) || !c.atEnd())
    return { error: 'the timestamp is a whole number', column: at };
  return { measurement, tags, fields, timestamp: BigInt(stamp) };
}

function fieldValue(token: string): number | boolean | undefined {
  if (/^[-+]?\d+[iu]$/.test(token)) return Number(token.slice(0, -1));
  if (/^(t|T|true|True|TRUE)$/.test(token)) return true;
  if (/^(f|F|false|False|FALSE)$/.test(token)) return false;
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(token)) {
    const x = Number(token);
    return Number.isFinite(x) ? x : undefined;
  }
  return undefined;
}

/** Reads a line left to right, with InfluxDB's backslash escapes. */
class Cursor {
  private i = 0;
  constructor(private readonly s: string) {}

  atEnd(): boolean {
    return this.i >= this.s.length;
  }

  /** 1-based, for messages. */
  get column(): number {
    return this.i + 1;
  }

  peek(): string | undefined {
    return this.s[this.i];
  }

  next(): void {
    this.i += 1;
  }

  skipSpaces(): void {
    while (this.s[this.i] === ' ') this.i += 1;
  }

  fault(error: string): Fault {
    return { error, column: this.column };
  }

  /** Up to the first unescaped stop character; `\x` is x for any stop character, `=` and `\`. */
  token(...stops: string[]): string {
    let out = '';
    while (this.i < this.s.length) {
      const ch = this.s[this.i] as string;
      if (stops.includes(ch)) break;
      const after = this.s[this.i + 1];
      if (
        ch === '\\' &&
        after !== undefined &&
        (stops.includes(after) || after === '=' || after === ',' || after === ' ' || after === '\\')
      ) {
        out += after;
        this.i += 2;
        continue;
      }
      out += ch;
      this.i += 1;
    }
    return out;
  }

  /** A "string" field value (undefined when it does not end). */
  quoted(): string | undefined {
    let out = '';
    for (this.i += 1; this.i < this.s.length; this.i += 1) {
      const ch = this.s[this.i] as string;
      if (ch === '"') {
        this.i += 1;
        return out;
      }
      if (ch === '\\' && (this.s[this.i + 1] === '"' || this.s[this.i + 1] === '\\')) {
        this.i += 1;
        out += this.s[this.i] as string;
        continue;
      }
      out += ch;
    }
    return undefined;
  }
}
