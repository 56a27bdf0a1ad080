import { describe, expect, it } from 'vitest';
import { decodeReading, plainReading, schemaReading } from '../../src/core/reading.js';
import { Random } from '../../src/sim/random.js';

describe('decodeReading', () => {
  it('accepts a well-formed reading and keeps seq when present', () => {
    const r = decodeReading(
      Buffer.from('{"sensorId":"st-17","ts":1732350000123,"values":{"temperature":24.9},"seq":3}'),
    );
    expect(r).toEqual({
      ok: true,
      value: { sensorId: 'st-17', ts: 1732350000123, values: { temperature: 24.9 }, seq: 3 },
    });
  });

  it('drops unknown top-level fields instead of failing', () => {
    const r = decodeReading('{"sensorId":"a","ts":1,"values":{"x":1},"extra":true}');
    expect(r).toEqual({ ok: true, value: { sensorId: 'a', ts: 1, values: { x: 1 } } });
  });

  it.each([
    [null, 'empty record value'],
    ['', 'empty record value'],
    ['{not json', 'not valid JSON'],
    ['[]', 'invalid reading: (record):'],
    ['{"ts":1,"values":{"x":1}}', 'invalid reading: sensorId:'],
    ['{"sensorId":"","ts":1,"values":{"x":1}}', 'sensorId: must not be empty'],
    ['{"sensorId":"a","ts":1.5,"values":{"x":1}}', 'ts: must be an integer'],
    ['{"sensorId":"a","ts":-1,"values":{"x":1}}', 'ts: must not be negative'],
    ['{"sensorId":"a","ts":1,"values":{}}', 'values: must hold at least one metric'],
    [
      '{"sensorId":"a","ts":1,"values":{"x":1e300}}',
      'values.x: 1e+300 is beyond limits.maxAbsValue (1e+100)',
    ],
    ['{"sensorId":"a","ts":1,"values":{"x":"hot"}}', 'values.x:'],
  ])('rejects %j with a precise reason', (raw, reason) => {
    const r = decodeReading(raw);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain(reason);
  });
});

describe('plainReading (the fast path before the schema)', () => {
  const pools: Record<string, unknown[]> = {
    sensorId: ['st-1', 'a', '', 'x'.repeat(256), 'x'.repeat(257), 5, null, undefined, ['a']],
    ts: [
      1732350000123,
      0,
      1,
      -1,
      1.5,
      2 ** 53 - 1,
      2 ** 53,
      8.64e15,
      8.64e15 + 2,
      '1',
      null,
      undefined,
      Infinity,
    ],
    values: [
      { temperature: 24.9 },
      { x: 1, y: -2.5, z: -0 },
      {},
      { x: '1' },
      { '': 1 },
      { x: Infinity },
      { x: Number.NaN },
      { x: null },
      JSON.parse('{"__proto__": 1}') as unknown,
      Object.assign(Object.create(null) as object, { x: 1 }),
      [],
      [1],
      null,
      undefined,
      'hot',
    ],
    seq: [undefined, 0, 7, -1, 1.5, null, '1', 2 ** 53],
    extra: [undefined, true, { nested: 1 }],
  };

  it('gives exactly what the schema gives whenever it accepts, on generated input', () => {
    const rng = new Random(42);
    // The first entry of each pool is valid: taken more often, so that many inputs are whole readings.
    const pick = (name: string): unknown => {
      const pool = pools[name] ?? [];
      return rng.next() < 0.6 ? pool[0] : pool[Math.floor(rng.next() * pool.length)];
    };
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const v: Record<string, unknown> = {};
      for (const name of Object.keys(pools)) {
        const x = pick(name);
        if (x !== undefined || rng.next() < 0.5) v[name] = x;
      }
      const input: unknown = rng.next() < 0.02 ? [v] : v;
      const plain = plainReading(input);
      if (plain === undefined) continue;
      accepted++;
      expect(schemaReading(input)).toEqual({ ok: true, value: plain });
    }
    expect(accepted).toBeGreaterThan(500); // the generator does reach the fast path
  });

  it('takes the common shapes, and leaves nothing the schema refuses', () => {
    expect(plainReading({ sensorId: 's', ts: 1, values: { t: 1 }, seq: 2 })).toEqual({
      sensorId: 's',
      ts: 1,
      values: { t: 1 },
      seq: 2,
    });
    for (const bad of ['{"sensorId":"","ts":1,"values":{"x":1}}', '{"sensorId":"a","ts":1,"values":{}}'])
      expect(plainReading(JSON.parse(bad))).toBeUndefined();
  });
});
