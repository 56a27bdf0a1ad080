import type { Reading } from '../core/reading.js';
import type { IncidentEffects } from './incidents.js';
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

/** Metrics that cannot go below zero in the physical world. */
const NON_NEGATIVE = new Set(['wind_speed', 'rainfall']);
const RECALIBRATION = 0.2;
const TREND_WINDOW = 300;
const TREND_WEIGHT = 0.05;
const OUTLIER_PROBABILITY = 0.002;
const OUTLIER_SIGMAS = 6;

export interface CityOptions {
  readonly stations: number;
  readonly seed: number;
  /** Which metrics each reading carries (default: all of CITY_METRICS). */
  readonly metrics?: readonly string[];
  /** Incidents to play (see incidents.ts): their effects change the readings of their stations. */
  readonly incidents?: IncidentEffects;
}

export function stationId(index: number): string {
  return `st-${String(index).padStart(4, '0')}`;
}

/**
 * A city's stations. Each metric of each station follows its own process:
 *
 *   x' = x + 0.2·(mean − x)                 pulled back toward the mean (recalibration rate 0.2)
 *          + 0.05·(m − mean)                drifting with the trend of its last ~300 readings
 *          + stddev·√(1 − 0.8²)·N(0, 1)     noise scaled so the long-run spread is `stddev`
 *
 * where m is an exponential moving average over ~300 readings (O(1) memory per station and metric,
 * so a million stations fit). About 1 reading in 500 carries an outlier of ±6 stddev, which does not
 * feed back into the process. Wind speed and rainfall are clamped at 0.
 * Deterministic: the same options give the same values in the same order.
 */
export class CitySimulator {
  private readonly random: Random;
  readonly metrics: readonly string[];
  private readonly value: Float64Array;
  private readonly trend: Float64Array;
  private readonly seq: Float64Array;
  private cursor = 0;

  constructor(private readonly options: CityOptions) {
    this.random = new Random(options.seed);
    this.metrics = options.metrics ?? Object.keys(CITY_METRICS);
    const n = options.stations * this.metrics.length;
    this.value = new Float64Array(n);
    this.trend = new Float64Array(n);
    this.seq = new Float64Array(options.stations);
    for (let s = 0; s < options.stations; s++) {
      this.metrics.forEach((metric, j) => {
        const m = CITY_METRICS[metric] ?? { mean: 0, stddev: 1 };
        this.value[s * this.metrics.length + j] = m.mean + m.stddev * this.random.gaussian();
        this.trend[s * this.metrics.length + j] = m.mean;
      });
    }
  }

  /** The next station's reading (round-robin over stations, skipping silent ones), at event time `ts`. */
  next(ts: number): Reading {
    const incidents = this.options.incidents;
    let s = this.cursor;
    // A silent station's turn goes to the next one that sends (all silent: the stream goes on anyway).
    for (let tries = 1; incidents?.silent(s, ts) === true && tries < this.options.stations; tries++)
      s = (s + 1) % this.options.stations;
    this.cursor = (s + 1) % this.options.stations;
    const incident = incidents?.active(s, ts);
    const values: Record<string, number> = {};
    const noiseScale = Math.sqrt(1 - (1 - RECALIBRATION) ** 2);
    this.metrics.forEach((metric, j) => {
      const i = s * this.metrics.length + j;
      const m = CITY_METRICS[metric] ?? { mean: 0, stddev: 1 };
      const x = this.value[i] as number;
      const trend = this.trend[i] as number;
      const next =
        x +
        RECALIBRATION * (m.mean - x) +
        TREND_WEIGHT * (trend - m.mean) +
        m.stddev * noiseScale * this.random.gaussian();
      this.value[i] = next;
      this.trend[i] = trend + (next - trend) / TREND_WINDOW;
      let emitted = next;
      if (this.random.next() < OUTLIER_PROBABILITY) {
        emitted += (this.random.next() < 0.5 ? -1 : 1) * OUTLIER_SIGMAS * m.stddev;
      }
      // The deviate is drawn for every metric while incidents play, active or not: the stream of one
      // seed stays the same whichever incidents hold.
      const gaussian = incidents === undefined ? 0 : this.random.gaussian();
      if (incident !== undefined && incidents !== undefined)
        emitted = incidents.apply(incident, s, ts, metric, emitted, m.stddev, gaussian);
      if (NON_NEGATIVE.has(metric) && emitted < 0) emitted = 0;
      values[metric] = Math.round(emitted * 100) / 100;
    });
    const seq = this.seq[s] as number;
    this.seq[s] = seq + 1;
    return { sensorId: stationId(s), ts, values, seq };
  }
}
