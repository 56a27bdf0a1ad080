import { describe, expect, it } from 'vitest';
import { CitySimulator, CITY_METRICS } from '../../src/sim/city.js';
import { Random } from '../../src/sim/random.js';

describe('simulator', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = new CitySimulator({ stations: 3, seed: 7 });
    const b = new CitySimulator({ stations: 3, seed: 7 });
    const c = new CitySimulator({ stations: 3, seed: 8 });
    const ra = [1, 2, 3, 4].map((t) => a.next(t));
    expect([1, 2, 3, 4].map((t) => b.next(t))).toEqual(ra);
    expect([1, 2, 3, 4].map((t) => c.next(t))).not.toEqual(ra);
  });

  it('visits stations round-robin with per-station sequence numbers', () => {
    const s = new CitySimulator({ stations: 2, seed: 1 });
    expect(
      [1, 2, 3].map((t) => {
        const r = s.next(t);
        return [r.sensorId, r.seq];
      }),
    ).toEqual([
      ['st-0000', 0],
      ['st-0001', 0],
      ['st-0000', 1],
    ]);
  });

  it('draws values around each metric mean', () => {
    const s = new CitySimulator({ stations: 1, seed: 3, metrics: ['temperature'] });
    let sum = 0;
    for (let i = 0; i < 5000; i++) sum += s.next(i).values['temperature'] ?? 0;
    expect(sum / 5000).toBeCloseTo(CITY_METRICS['temperature']?.mean ?? 0, 0);
  });

  it('gaussian has mean ~0 and stddev ~1', () => {
    const r = new Random(42);
    const xs = Array.from({ length: 20000 }, () => r.gaussian());
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(sd - 1)).toBeLessThan(0.03);
  });
});
