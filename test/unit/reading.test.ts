import { describe, expect, it } from 'vitest';
import { decodeReading } from '../../src/core/reading.js';

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
    ['{"sensorId":"a","ts":1,"values":{"x":"hot"}}', 'values.x:'],
  ])('rejects %j with a precise reason', (raw, reason) => {
    const r = decodeReading(raw);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain(reason);
  });
});
