import { roundTrip } from '../support/pipeline.js';
import { describe, expect, it } from 'vitest';
import { Deduplicator } from '../../src/core/dedupe.js';

describe('Deduplicator', () => {
  it('drops the same sequence number and the same ts + values (in any key order)', () => {
    const d = new Deduplicator(60_000);
    expect(d.isDuplicate({ sensorId: 's', ts: 1, values: { a: 1, b: 2 }, seq: 7 })).toBe(false);
    expect(d.isDuplicate({ sensorId: 's', ts: 99, values: { a: 5 }, seq: 7 })).toBe(true);
    expect(d.isDuplicate({ sensorId: 's', ts: 1, values: { b: 2, a: 1 } })).toBe(true);
    expect(d.isDuplicate({ sensorId: 's', ts: 1, values: { a: 1, b: 3 } })).toBe(false);
    expect(d.isDuplicate({ sensorId: 's', ts: 2, values: { a: 1, b: 2 }, seq: 8 })).toBe(false);
  });

  it('forgets what is older than the horizon, so memory stays bounded', () => {
    const d = new Deduplicator(1_000);
    for (let i = 0; i < 10_000; i++) d.isDuplicate({ sensorId: 's', ts: i * 10, values: { x: i } });
    expect(d.size).toBeLessThan(300);
    expect(d.isDuplicate({ sensorId: 's', ts: 99_990, values: { x: 9_999 } })).toBe(true);
  });

  it('is off with a zero horizon', () => {
    const d = new Deduplicator(0);
    expect(d.isDuplicate({ sensorId: 's', ts: 1, values: { x: 1 } })).toBe(false);
    expect(d.isDuplicate({ sensorId: 's', ts: 1, values: { x: 1 } })).toBe(false);
  });

  it('restores from a snapshot', () => {
    const d = new Deduplicator(60_000);
    d.isDuplicate({ sensorId: 's', ts: 5, values: { x: 1 }, seq: 1 });
    const back = new Deduplicator(60_000).restore(roundTrip(d.snapshot()));
    expect(back.isDuplicate({ sensorId: 's', ts: 6, values: { x: 2 }, seq: 1 })).toBe(true);
  });
});

describe('fingerprintHash', () => {
  it('is stable, ignores field order, and separates near misses', async () => {
    const { fingerprintHash } = await import('../../src/core/dedupe.js');
    const h = fingerprintHash({ sensorId: 's', ts: 1, values: { a: 1, b: 2 } });
    expect(fingerprintHash({ sensorId: 's', ts: 1, values: { b: 2, a: 1 } })).toBe(h);
    expect(Number.isSafeInteger(h) && h >= 0).toBe(true);
    const near = new Set<number>();
    for (let i = 0; i < 20_000; i++)
      near.add(
        fingerprintHash({
          sensorId: 's',
          ts: 1_795_000_000_000 + (i >> 3),
          values: { t: 20 + (i % 8) / 100 },
        }),
      );
    expect(near.size).toBe(20_000);
  });
});
