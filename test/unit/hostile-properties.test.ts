import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeJsonError } from '../../src/core/json-error.js';
import { compileLayout, DEFAULT_PATTERNS, LAYOUTS } from '../../src/core/log-sources/layouts.js';
import { assembleRecords, splitLines } from '../../src/core/log-sources/lines.js';
import { decodeLogRecord, logsDecoder } from '../../src/core/log-record.js';
import { newOutputBuffer } from '../../src/core/outputs.js';
import { partitionForKey } from '../../src/core/partitioner.js';
import { decodeReading, DEFAULT_READING_LIMITS, type Reading } from '../../src/core/reading.js';
import { DEFAULT_PAYLOAD_SETTINGS } from '../../src/core/payloads/index.js';
import { readingsDecoder, routeBatch, type RawRecord } from '../../src/core/router.js';
import { SensorProcessor, type SensorEvent } from '../../src/core/sensor.js';
import { StreamClock } from '../../src/core/stream-clock.js';
import { testPipeline } from '../support/pipeline.js';

/**
 * Properties of the pure code every record from outside goes through, over inputs no producer of ours
 * would make: whatever comes in, nothing throws, every record is accounted for, and outputs stay
 * bounded and finite.
 */

const RUNS = { numRuns: 300 };
const LIMITS = DEFAULT_READING_LIMITS;

/** Payloads from anyone: bytes, text, JSON of any shape, and readings bent in every field. */
const sensorId = fc.oneof(
  fc.string({ minLength: 1, maxLength: 8 }),
  fc.constantFrom('__proto__', 'constructor', 'st-1', 'x'.repeat(300)),
);
const metricName = fc.oneof(
  fc.string({ minLength: 0, maxLength: 6 }),
  fc.constantFrom('__proto__', 'toString', 'temperature', 'm'.repeat(200)),
);
const timestamp = fc.oneof(
  fc.integer({ min: 0, max: 4_000_000_000_000 }),
  fc.constantFrom(0, 32_503_680_000_000, 8_640_000_000_000_000, -1, 1.5, Number.MAX_SAFE_INTEGER),
);
const value = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(1e308, -1e308, 5e-324, 0, -0),
);
const bentReading = fc.record(
  {
    sensorId,
    ts: timestamp,
    values: fc.dictionary(metricName, value, { maxKeys: 80 }),
    seq: fc.oneof(fc.nat(), fc.constant(-1)),
    extra: fc.jsonValue({ maxDepth: 2 }),
  },
  { requiredKeys: [] },
);
const payload = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  fc.string({ maxLength: 300 }).map((s) => Buffer.from(s)),
  fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v))),
  bentReading.map((r) => Buffer.from(JSON.stringify(r))),
  fc.constant(Buffer.alloc(LIMITS.maxRecordBytes + 1, 0x20)),
  fc.constant(Buffer.from('{"sensorId":"a","ts":1,"values":{"__proto__":1}}')),
);

function withinLimits(r: Reading): void {
  expect(r.sensorId.length).toBeGreaterThan(0);
  expect(r.sensorId.length).toBeLessThanOrEqual(LIMITS.maxSensorIdLength);
  expect(Number.isSafeInteger(r.ts) && r.ts >= 0).toBe(true);
  const names = Object.keys(r.values);
  expect(names.length).toBeGreaterThan(0);
  expect(names.length).toBeLessThanOrEqual(LIMITS.maxMetrics);
  for (const n of names) {
    expect(n.length).toBeLessThanOrEqual(LIMITS.maxMetricNameLength);
    expect(Math.abs(r.values[n] ?? Number.NaN)).toBeLessThanOrEqual(LIMITS.maxAbsValue);
  }
  expect(Object.getPrototypeOf(r.values)).not.toBe(Object.prototype.constructor);
}

describe('decoders take anything', () => {
  it('decodeReading: a reading within the limits, or a reason; never a throw', () => {
    fc.assert(
      fc.property(payload, (p) => {
        const d = decodeReading(p);
        if (d.ok) withinLimits(d.value);
        else expect(d.reason.length).toBeGreaterThan(0);
      }),
      RUNS,
    );
  });

  it('decodeReading takes back every reading a producer may send, as sent', () => {
    const valid = fc.record({
      sensorId: fc.string({ minLength: 1, maxLength: 40 }).filter((s) => s !== '__proto__'),
      ts: fc.integer({ min: 0, max: 32_503_680_000_000 }),
      values: fc.dictionary(
        fc.string({ minLength: 1, maxLength: 20 }).filter((s) => s !== '__proto__'),
        fc.double({ min: -1e100, max: 1e100, noNaN: true }).map((v) => (Object.is(v, -0) ? 0 : v)),
        { minKeys: 1, maxKeys: 20 },
      ),
    });
    fc.assert(
      fc.property(valid, (r) => {
        const d = decodeReading(Buffer.from(JSON.stringify(r)));
        expect(d.ok && d.value).toEqual(r);
      }),
      RUNS,
    );
  });

  it('decodeLogRecord: a record or a reason; never a throw', () => {
    fc.assert(
      fc.property(payload, (p) => {
        const d = decodeLogRecord(p);
        if (!d.ok) expect(d.reason.length).toBeGreaterThan(0);
      }),
      RUNS,
    );
  });

  it('every layout parses any line, or says it does not match; records hold every byte range once', () => {
    const text = fc.array(
      fc.oneof(
        fc.string({ maxLength: 120 }),
        fc.constantFrom(
          '12:00:00.000 [main] ERROR a.B - boom',
          '\tat x.Y(Z.java:1)',
          '{"level":"ERROR","message":"x"}',
          '2026-12-01 00:00:00,000 - app - ERROR - y',
        ),
      ),
      { maxLength: 40 },
    );
    fc.assert(
      fc.property(fc.constantFrom(...LAYOUTS), text, fc.boolean(), (layout, lines, final) => {
        const pattern = compileLayout({ layout, pattern: DEFAULT_PATTERNS[layout] });
        const buf = Buffer.from(lines.join('\n'));
        const split = splitLines(buf, 0, { final, maxLineBytes: 64 });
        expect(split.next).toBeLessThanOrEqual(buf.length);
        for (const l of split.lines) expect(Buffer.byteLength(l.text)).toBeLessThanOrEqual(64);
        const { items, next } = assembleRecords(
          split.lines,
          pattern,
          { flushLast: final, maxRecordChars: 500 },
          split.next,
        );
        expect(next).toBeLessThanOrEqual(split.next);
        for (const item of items) {
          if (item.kind === 'record') expect(item.text.length).toBeLessThanOrEqual(500 + 64);
          else expect(item.reason.length).toBeGreaterThan(0);
        }
      }),
      RUNS,
    );
  });
});

describe('a JSON syntax error is told in plain words', () => {
  it('for any broken text, a line and column (or an empty body); never for valid JSON', () => {
    const broken = fc
      .tuple(fc.jsonValue({ maxDepth: 3 }), fc.nat(), fc.constantFrom(',', '}', ']', "'", 'x', ':', '"', ''))
      .map(([v, at, junk]) => {
        const text = JSON.stringify(v, null, 1);
        const cut = at % (text.length + 1);
        return text.slice(0, cut) + junk + text.slice(cut + (junk === '' ? 1 : 0));
      });
    fc.assert(
      fc.property(broken, (text) => {
        let valid = true;
        try {
          JSON.parse(text);
        } catch {
          valid = false;
        }
        const told = describeJsonError(text);
        if (valid)
          expect(told).toBe('not valid JSON'); // never called on valid JSON: no fault found
        else expect(told).toMatch(/line \d+, column \d+|the body is empty/);
      }),
      RUNS,
    );
  });

  it('a megabyte of brackets is told, not a stack overflow', () => {
    expect(describeJsonError('['.repeat(1 << 20))).toMatch(/at most \d+ nested brackets was expected/);
    expect(describeJsonError(`{"a": [${'1,'.repeat(200_000)}]}`)).toMatch(/trailing comma before "]"/);
  });
});

describe('the router accounts for every record', () => {
  const PARTITIONS = 4;
  const record = fc.record({
    key: fc.option(fc.string({ maxLength: 6 }).map((s) => Buffer.from(s))),
    value: fc.oneof(
      payload,
      fc
        .record({ sensorId: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), ts: timestamp, t: value })
        .map(({ sensorId: s, ts, t }) => Buffer.from(JSON.stringify({ sensorId: s, ts, values: { t } }))),
    ),
    brokerTime: fc.integer({ min: 0, max: 4_000_000_000_000 }),
  });

  it('each record is a reading of its own partition, a forward, or a dead letter; stream time stays under broker time', () => {
    fc.assert(
      fc.property(
        fc.array(record, { maxLength: 60 }),
        fc.constantFrom('readings', 'logs'),
        (recs, stream) => {
          const raw: RawRecord[] = recs.map((r, i) => ({
            key: r.key,
            value: r.value,
            offset: String(i),
            timestamp: String(r.brokerTime),
          }));
          const clock = new StreamClock(15_000, [30_000]);
          const routed = routeBatch(raw, {
            topic: 't',
            partition: 1,
            partitions: PARTITIONS,
            clock,
            decode: stream === 'readings' ? readingsDecoder(DEFAULT_PAYLOAD_SETTINGS) : logsDecoder(),
            maxFutureMs: 600_000,
            forwarded: new Map(),
          });
          let readings = 0;
          for (const [sensor, events] of routed.groups) {
            expect(partitionForKey(sensor, PARTITIONS)).toBe(1);
            readings += events.filter((e) => 'sensorId' in e).length;
          }
          expect(readings + routed.forwards.length + routed.deadLetters.length).toBe(raw.length);
          const latest = Math.max(...recs.map((r) => r.brokerTime));
          if (raw.length > 0 && Number.isFinite(clock.now)) expect(clock.now).toBeLessThanOrEqual(latest);
        },
      ),
      RUNS,
    );
  });
});

describe('a sensor takes any sequence of readings', () => {
  const events = fc.array(
    fc.record({
      ts: fc.oneof(fc.integer({ min: 0, max: 200_000 }), fc.constantFrom(0, 32_503_680_000_000)),
      // What the decoder lets through: up to limits.maxAbsValue in magnitude.
      t: fc.oneof(
        fc.double({ min: -1e6, max: 1e6, noNaN: true }),
        fc.double({ min: -1e100, max: 1e100, noNaN: true }),
        fc.constantFrom(1e100, -1e100, 5e-324),
      ),
      seq: fc.option(fc.nat({ max: 50 }), { nil: undefined }),
    }),
    { maxLength: 120 },
  );

  it('every reading is counted once in a window, or is late, or a duplicate; results are finite; alerts alternate', () => {
    const pipeline = testPipeline({
      windows: [{ kind: 'tumbling', name: 'tumbling-10s', sizeMs: 10_000 }],
    });
    fc.assert(
      fc.property(events, (evs) => {
        const p = new SensorProcessor('s', pipeline);
        const out = newOutputBuffer();
        const readings: Reading[] = evs.map((e) =>
          e.seq === undefined
            ? { sensorId: 's', ts: e.ts, values: { t: e.t } }
            : { sensorId: 's', ts: e.ts, values: { t: e.t }, seq: e.seq },
        );
        for (const r of readings) p.process(r, out);
        const end = Math.max(0, ...readings.map((r) => r.ts)) + 1_000_000;
        const close: SensorEvent = { tick: 'idle', streamTime: end, lastSeen: end };
        p.process(close, out);
        const counted = out.windowResults.reduce((n, w) => n + w.count, 0);
        expect(counted + out.late.length + out.duplicates.length).toBe(readings.length);
        for (const w of out.windowResults) {
          for (const v of [w.min, w.max, w.mean, w.sum, w.first, w.last, w.stddev, w.p50, w.p95, w.p99]) {
            if (v !== undefined) expect(Number.isFinite(v)).toBe(true);
          }
        }
        const states = new Map<string, string>();
        for (const a of out.alerts) {
          const before = states.get(a.ruleId) ?? 'resolved';
          expect(a.state).not.toBe(before);
          states.set(a.ruleId, a.state);
        }
      }),
      RUNS,
    );
  });
});
