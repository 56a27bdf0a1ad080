import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodePayload,
  DEFAULT_JSON_FIELDS,
  encodeReadings,
  type PayloadFormat,
  type PayloadSettings,
} from '../../src/core/payloads/index.js';
import { DEFAULT_READING_LIMITS, readingProblem, type Reading } from '../../src/core/reading.js';

const settings = (format: PayloadFormat = 'auto', extra: Partial<PayloadSettings> = {}): PayloadSettings => ({
  format,
  json: DEFAULT_JSON_FIELDS,
  lineProtocol: { sensorTag: 'sensor', precision: 'ns' },
  limits: DEFAULT_READING_LIMITS,
  ...extra,
});
const T = Date.UTC(2026, 10, 23, 15, 12, 0);
const at = { receivedAt: T + 777 };

describe('the payloads devices send (issue 21, with the shipped settings)', () => {
  it("Vigil's own JSON, unchanged", () => {
    const d = decodePayload(
      '{"sensorId":"st-1","ts":1732350000123,"values":{"t":24.9},"seq":42}',
      settings(),
    );
    expect(d).toEqual({
      readings: [{ sensorId: 'st-1', ts: 1732350000123, values: { t: 24.9 }, seq: 42 }],
      errors: [],
    });
  });

  it('the sensor id from the MQTT topic (or the record key) when the payload has none', () => {
    const d = decodePayload('{"ts":1732350000123,"values":{"t":1}}', settings(), { sensorId: 'st-7' });
    expect(d.readings).toEqual([{ sensorId: 'st-7', ts: 1732350000123, values: { t: 1 } }]);
    // the payload's own id wins
    expect(
      decodePayload('{"deviceId":"d-1","temperature":3}', settings(), { sensorId: 'x', ...at }).readings[0]
        ?.sensorId,
    ).toBe('d-1');
  });

  it('flat JSON: every numeric field but the id and time fields is a metric', () => {
    const d = decodePayload(
      '{"temperature": 21.5, "humidity": 40, "unit": "C", "ok": true, "nested": {"a": 1}}',
      settings(),
      {
        sensorId: 'st-7',
        ...at,
      },
    );
    expect(d).toEqual({
      readings: [{ sensorId: 'st-7', ts: T + 777, values: { temperature: 21.5, humidity: 40 } }],
      errors: [],
    });
  });

  it('time as epoch milliseconds, or RFC 3339 / ISO 8601 (UTC unless an offset is given, fractions cut to the ms)', () => {
    const ts = (time: unknown) =>
      decodePayload(JSON.stringify({ sensorId: 's', time, v: 1 }), settings()).readings[0]?.ts;
    expect(ts('2026-11-23T15:12:00Z')).toBe(T);
    expect(ts('2026-11-23T16:12:00.250+01:00')).toBe(T + 250);
    expect(ts('2026-11-23T15:12:00.123456789Z')).toBe(T + 123);
    expect(ts('2026-11-23 15:12:00')).toBe(T);
    expect(ts(T)).toBe(T);
    const bad = decodePayload(JSON.stringify({ sensorId: 's', time: '23/11/2026', v: 1 }), settings());
    expect(bad.errors[0]).toMatch(
      /^invalid reading: time: "23\/11\/2026" is not epoch milliseconds or an ISO 8601 time/,
    );
  });

  it('no time at all: the time it was received; none known: an error saying so', () => {
    expect(decodePayload('{"sensorId":"s","t":1}', settings(), at).readings[0]?.ts).toBe(T + 777);
    expect(decodePayload('{"sensorId":"s","t":1}', settings()).errors).toEqual([
      'invalid reading: no time: none of the fields ts, time, timestamp',
    ]);
  });

  it('JSON lines: one reading per line, errors per line', () => {
    const d = decodePayload(
      '{"sensorId":"a","ts":1,"values":{"x":1}}\n{"sensorId":"b","ts":2,"x":2}\nnope\n',
      settings(),
    );
    expect(d.readings.map((r) => r.sensorId)).toEqual(['a', 'b']);
    expect(d.errors).toHaveLength(1);
    expect(d.errors[0]).toMatch(/^json: line 3: not valid JSON/);
  });

  it('InfluxDB line protocol: the sensor from its tag, integer, float and boolean fields, nanosecond times', () => {
    const d = decodePayload(
      [
        'weather,sensor=st-7,site=north temperature=21.5,humidity=40i,door=false,note="a, b" 1732350000123456789',
        '# a comment',
        '',
        'temperature,sensor=st-8 value=19.25 1732350000124000000',
        'cpu,host=h1 usage_idle=99.5',
      ].join('\n'),
      settings(),
      { sensorId: 'from-topic', ...at },
    );
    expect(d).toEqual({
      readings: [
        { sensorId: 'st-7', ts: 1732350000123, values: { temperature: 21.5, humidity: 40, door: 0 } },
        { sensorId: 'st-8', ts: 1732350000124, values: { temperature: 19.25 } },
        { sensorId: 'from-topic', ts: T + 777, values: { usage_idle: 99.5 } },
      ],
      errors: [],
    });
  });

  it('line protocol errors name the line and column', () => {
    const d = decodePayload(
      'm,sensor=a x=1\nm,sensor=a x=oops\nm,sensor=a y="text"\nm sensor a',
      settings('line'),
      at,
    );
    expect(d.readings).toHaveLength(1);
    expect(d.errors).toEqual([
      'line protocol: line 2, column 14: field "x": not a number, an integer (40i), a boolean or a "string"',
      'line protocol: line 3: no numeric field (string fields are not metrics)',
      'line protocol: line 4, column 9: a field is key=value',
    ]);
  });

  it('SenML packs: the sensor from the base name, each record a metric, times from bt + t in seconds', () => {
    const d = decodePayload(
      JSON.stringify([
        { bn: 'urn:dev:ow:10e2073a01080063:', bt: 1.73235e9, n: 'temperature', u: 'Cel', v: 23.1 },
        { n: 'humidity', u: '%RH', v: 40 },
        { n: 'temperature', t: 10, v: 23.4 },
        { n: 'label', vs: 'kitchen' },
        { bn: 'st-9/', n: 'open', vb: true, t: 0 },
      ]),
      settings(),
    );
    expect(d).toEqual({
      readings: [
        {
          sensorId: 'urn:dev:ow:10e2073a01080063',
          ts: 1_732_350_000_000,
          values: { temperature: 23.1, humidity: 40 },
        },
        { sensorId: 'urn:dev:ow:10e2073a01080063', ts: 1_732_350_010_000, values: { temperature: 23.4 } },
        { sensorId: 'st-9', ts: 1_732_350_000_000, values: { open: 1 } },
      ],
      errors: [],
    });
  });

  it('SenML: relative times (below 2^28 s) count from when it was received; a whole name in bn', () => {
    const d = decodePayload('[{"bn":"dev-3:temp","v":7},{"bn":"dev-3:temp","t":-5,"v":6}]', settings(), at);
    expect(d.readings).toEqual([
      { sensorId: 'dev-3', ts: T + 777, values: { temp: 7 } },
      { sensorId: 'dev-3', ts: T + 777 - 5_000, values: { temp: 6 } },
    ]);
    expect(decodePayload('[{"bn":"d:","n":"x","v":"1"}]', settings(), at).errors).toEqual([
      'senml: record 1: v must be a number',
    ]);
  });

  it('detects the format by its first character, or takes it as pinned', () => {
    expect(decodePayload('  \n[{"bn":"a:","n":"x","v":1,"bt":1.8e9}]', settings()).readings).toHaveLength(1);
    expect(decodePayload('m,sensor=a x=1 1', settings()).readings).toHaveLength(1);
    expect(decodePayload('{"sensorId":"a","ts":1,"values":{"x":1}}', settings('line')).errors[0]).toMatch(
      /^line protocol:/,
    );
  });

  it('refuses what no reading may hold, naming the limit', () => {
    const names = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`m${i}`, i]));
    const d = decodePayload(JSON.stringify({ sensorId: 's', ts: 1, ...names }), settings());
    expect(d.errors[0]).toMatch(/over limits\.maxMetricsPerReading \(64\)/);
    expect(decodePayload('{"sensorId":"s","ts":1,"__proto__":1}', settings()).errors[0]).toMatch(/__proto__/);
    expect(decodePayload('m,sensor=s x=1e400 1', settings()).errors[0]).toMatch(/field "x"/);
    expect(decodePayload('', settings()).errors).toEqual(['empty record value']);
  });
});

/** InfluxDB's escaping of names, tag keys and values, and field keys. */
const escape = (s: string): string => s.replace(/[\\, =]/g, (c) => `\\${c}`);
const name = fc
  .stringMatching(/^[A-Za-z_][\w ,=.:/-]{0,15}$/)
  .filter((s) => s !== 'value' && !s.endsWith('\\'));
const value = fc.oneof(
  fc
    .double({ noNaN: true, noDefaultInfinity: true, min: -1e12, max: 1e12 })
    .map((x) => ({ x, text: String(x) })),
  fc.integer({ min: -1e9, max: 1e9 }).map((x) => ({ x, text: `${x}i` })),
  fc.boolean().map((b) => ({ x: b ? 1 : 0, text: b ? 'true' : 'F' })),
);

describe('decoders against an encoder of their format', () => {
  it('line protocol: what an encoder writes is read back exactly', () => {
    const line = fc.record({
      sensor: name,
      measurement: name,
      fields: fc.dictionary(name, value, { minKeys: 1, maxKeys: 6 }),
      tsNs: fc.bigInt({ min: 0n, max: 4_000_000_000_000_000_000n }),
    });
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 20 }), (lines) => {
        const text = lines
          .map(
            (l) =>
              `${escape(l.measurement).replace(/\\=/g, '=')},sensor=${escape(l.sensor)} ${Object.entries(
                l.fields,
              )
                .map(([k, v]) => `${escape(k)}=${v.text}`)
                .join(',')} ${l.tsNs}`,
          )
          .join('\n');
        const d = decodePayload(text, settings('line'));
        expect(d.errors).toEqual([]);
        expect(d.readings).toEqual(
          lines.map((l) => ({
            sensorId: l.sensor,
            ts: Number(l.tsNs / 1_000_000n),
            values: Object.fromEntries(Object.entries(l.fields).map(([k, v]) => [k, v.x === 0 ? 0 : v.x])),
          })),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('SenML: readings of a pack, whatever its base fields, are the records resolved one by one', () => {
    const rec = fc.record({
      bn: fc.option(fc.constantFrom('dev-a:', 'dev-b/', 'x.'), { nil: undefined }),
      bt: fc.option(fc.integer({ min: 1_700_000_000, max: 1_800_000_000 }), { nil: undefined }),
      n: fc.constantFrom('t', 'h', 'p'),
      t: fc.integer({ min: 0, max: 30 }),
      v: fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
    });
    fc.assert(
      fc.property(fc.array(rec, { minLength: 1, maxLength: 25 }), (pack) => {
        const expected = new Map<string, Reading & { values: Record<string, number> }>();
        let bn = '';
        let bt = 0;
        for (const r of pack) {
          bn = r.bn ?? bn;
          bt = r.bt ?? bt;
          const sensorId = bn.slice(0, -1) || 'ctx';
          const secs = bt + r.t;
          const ts = secs >= 2 ** 28 ? Math.round(secs * 1000) : T + Math.round(secs * 1000);
          const key = `${sensorId}|${ts}`;
          const reading = expected.get(key) ?? { sensorId, ts, values: {} };
          reading.values[r.n] = r.v === 0 ? 0 : r.v; // JSON has no -0
          expected.set(key, reading);
        }
        const d = decodePayload(JSON.stringify(pack), settings('senml'), { sensorId: 'ctx', receivedAt: T });
        expect(d.errors).toEqual([]);
        expect(d.readings).toEqual([...expected.values()]);
      }),
      { numRuns: 300 },
    );
  });

  it("JSON: Vigil's readings written by encodeReadings (as the bridge and forwards write them) come back equal", () => {
    const reading = fc.record(
      {
        sensorId: fc.string({ minLength: 1, maxLength: 20 }),
        ts: fc.integer({ min: 0, max: 4_102_444_800_000 }),
        values: fc.dictionary(
          fc.string({ minLength: 1, maxLength: 10 }).filter((k) => k !== '__proto__'),
          fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e90, max: 1e90 }),
          { minKeys: 1, maxKeys: 5 },
        ),
        seq: fc.nat(),
      },
      { requiredKeys: ['sensorId', 'ts', 'values'] },
    );
    fc.assert(
      fc.property(fc.array(reading, { minLength: 1, maxLength: 10 }), (rs) => {
        const d = decodePayload(encodeReadings(rs), settings());
        expect(d.errors).toEqual([]);
        expect(d.readings).toEqual(rs.map((r) => JSON.parse(JSON.stringify(r)) as Reading));
      }),
      { numRuns: 200 },
    );
  });
});

describe('decoders on anything at all (fuzz)', () => {
  const anything = fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1')),
    fc.json(),
    fc.array(fc.jsonValue(), { maxLength: 5 }).map((a) => JSON.stringify(a)),
    fc.array(fc.stringMatching(/^[a-z,=\\ "0-9.tfi-]{0,40}$/), { maxLength: 5 }).map((ls) => ls.join('\n')),
  );
  it('never throw; every reading is a valid one; every error names its format and where', () => {
    fc.assert(
      fc.property(
        anything,
        fc.constantFrom<PayloadFormat>('auto', 'json', 'senml', 'line'),
        fc.boolean(),
        (text, format, withCtx) => {
          const d = decodePayload(text, settings(format), withCtx ? { sensorId: 'ctx', receivedAt: T } : {});
          for (const r of d.readings) expect(readingProblem(r, DEFAULT_READING_LIMITS)).toBeUndefined();
          for (const e of d.errors)
            expect(e).toMatch(
              /^(json|senml|line protocol): |^(empty record value|invalid reading: .|not valid JSON)/,
            );
          if (text.trim() !== '' && d.readings.length === 0) expect(d.errors.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
