import type { Reading } from '../core/reading.js';
import { Random } from './random.js';

/** Mean and standard deviation of each metric a city station reports. */
export const CITY_METRICS: Readonly<Record<string, { readonly mean: number; readonly stddev: number }>> = {
  temperature: { mean: 25, stddev: 2 },
  humidity: { mean: 60, stddev: 3 },
  pressure: { mean: 1013, stddev: 2 },
  air_quality: { mean: 200, stddev: 20 },
  particulate_matter: { mean: 30, stddev: 2 },
  noise_level: { mean: 50, stddev: 3 },
  illuminance: { mean: 500, stddev: 50 },
  wind_speed: { mean: 5, stddev: 20 },
  rainfall: { mean: 0, stddev: 3 },
};

export interface CityOptions {
  readonly stations: number;
  readonly seed: number;
  /** Which metrics each reading carries (default: all of CITY_METRICS). */
  readonly metrics?: readonly string[];
}

export function stationId(index: number): string {
  return `st-${String(index).padStart(4, '0')}`;
}

/**
 * Generates readings of a city's stations, round-robin, each value drawn around its metric's mean.
 * Deterministic for a seed: the same options and timestamps give the same stream.
 */
export class CitySimulator {
  private readonly random: Random;
  private readonly metrics: readonly string[];
  private cursor = 0;
  private readonly seq: number[];

  constructor(private readonly options: CityOptions) {
    this.random = new Random(options.seed);
    this.metrics = options.metrics ?? Object.keys(CITY_METRICS);
    this.seq = new Array<number>(options.stations).fill(0);
  }

  next(ts: number): Reading {
    const index = this.cursor;
    this.cursor = (this.cursor + 1) % this.options.stations;
    const values: Record<string, number> = {};
    for (const metric of this.metrics) {
      const m = CITY_METRICS[metric] ?? { mean: 0, stddev: 1 };
      values[metric] = Math.round((m.mean + m.stddev * this.random.gaussian()) * 100) / 100;
    }
    const seq = this.seq[index] ?? 0;
    this.seq[index] = seq + 1;
    return { sensorId: stationId(index), ts, values, seq };
  }
}
