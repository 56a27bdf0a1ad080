import { Random } from './random.js';

/**
 * Realistic incidents for the city simulator, with their ground truth: what happened, where and when,
 * so that alerts can be scored against it (did every incident raise an alert; was every alert about
 * an incident). Each kind is what a real station network meets:
 *
 *   heat    a heat episode over a neighbourhood (5 stations of one area): temperature +8 °C
 *   stuck   a humidity sensor stuck: it repeats the value it had when it stuck
 *   noisy   a failing noise sensor: noise_level gets extra noise of 4 stddev
 *   drift   a pressure sensor drifting out of calibration: +0.1 hPa per second of the incident
 *   silent  a station going silent (power, radio): it sends nothing
 *
 * A plan is deterministic (seeded) and pure: the simulator asks it, per reading, what to change.
 */
export type IncidentKind = 'heat' | 'stuck' | 'noisy' | 'drift' | 'silent';

export interface Incident {
  /** `<kind>-<n>`, n counting from 1 in the order incidents start. */
  readonly id: string;
  readonly kind: IncidentKind;
  /** Station indices (see stationId). */
  readonly stations: readonly number[];
  /** Event time, ms: the incident holds in [start, end). */
  readonly start: number;
  readonly end: number;
}

export interface IncidentPlanOptions {
  readonly stations: number;
  readonly seed: number;
  /** Event time the stream starts. */
  readonly startTs: number;
  /** Incidents start this long after startTs (default 10 s), then every `everyMs` (default 30 s). */
  readonly firstAfterMs?: number;
  readonly everyMs?: number;
  /** Plan incidents that end by startTs + spanMs (default: a day). */
  readonly spanMs?: number;
}

/** The order kinds take turns in, and how long each lasts. */
const KINDS: readonly IncidentKind[] = ['heat', 'stuck', 'noisy', 'drift', 'silent'];
const DURATION_MS: Readonly<Record<IncidentKind, number>> = {
  heat: 90_000,
  stuck: 90_000,
  noisy: 90_000,
  drift: 150_000,
  silent: 120_000,
};
/** Stations per area: a heat episode takes 5 neighbouring stations of one area. */
export const AREA_SIZE = 10;
const HEAT_STATIONS = 5;
/** A station rests this long after an incident before another may take it (its alerts resolve). */
const REST_MS = 120_000;

export const HEAT_DEGREES = 8;
export const NOISE_SIGMAS = 4;
export const DRIFT_PER_SECOND = 0.1;

/** The area a station belongs to (stations are numbered in areas of AREA_SIZE). */
export function areaOf(station: number): number {
  return Math.floor(station / AREA_SIZE);
}

/** A seeded schedule of incidents, taking turns by kind, never two at once on one station. */
export function planIncidents(o: IncidentPlanOptions): Incident[] {
  const random = new Random((o.seed ^ 0x1dc1de47) >>> 0);
  const every = o.everyMs ?? 30_000;
  const last = o.startTs + (o.spanMs ?? 86_400_000);
  const freeFrom = new Float64Array(o.stations).fill(-Infinity);
  const incidents: Incident[] = [];
  let start = o.startTs + (o.firstAfterMs ?? 10_000);
  for (let turn = 0; ; turn++, start += every) {
    const kind = KINDS[turn % KINDS.length] as IncidentKind;
    const end = start + DURATION_MS[kind];
    if (end > last) break;
    const stations = kind === 'heat' ? heatStations(o.stations, start, freeFrom, random) : [];
    if (kind !== 'heat') {
      const s = freeStation(o.stations, start, freeFrom, random);
      if (s !== undefined) stations.push(s);
    }
    if (stations.length === 0) continue; // every candidate is busy: this turn has no incident
    for (const s of stations) freeFrom[s] = end + REST_MS;
    incidents.push({ id: `${kind}-${incidents.length + 1}`, kind, stations, start, end });
  }
  return incidents;
}

function freeStation(n: number, at: number, freeFrom: Float64Array, random: Random): number | undefined {
  const from = random.int(n);
  for (let i = 0; i < n; i++) {
    const s = (from + i) % n;
    if ((freeFrom[s] as number) <= at) return s;
  }
  return undefined;
}

/** Five free neighbouring stations of one area, or none. */
function heatStations(n: number, at: number, freeFrom: Float64Array, random: Random): number[] {
  const areas = Math.floor(n / AREA_SIZE);
  const from = random.int(Math.max(1, areas));
  for (let i = 0; i < areas; i++) {
    const first = ((from + i) % areas) * AREA_SIZE + random.int(AREA_SIZE - HEAT_STATIONS + 1);
    const stations = Array.from({ length: HEAT_STATIONS }, (_, k) => first + k);
    if (stations.every((s) => (freeFrom[s] as number) <= at)) return stations;
  }
  return [];
}

/**
 * What the plan changes, asked per reading. Lookups are by station, so a plan of thousands of
 * incidents costs a short scan of that station's own incidents.
 */
export class IncidentEffects {
  private readonly byStation = new Map<number, Incident[]>();
  /** The value a stuck sensor repeats, per incident and station. */
  private readonly stuckAt = new Map<string, number>();

  constructor(readonly incidents: readonly Incident[]) {
    for (const incident of incidents)
      for (const s of incident.stations) {
        const list = this.byStation.get(s) ?? [];
        list.push(incident);
        this.byStation.set(s, list);
      }
  }

  /** The incident holding at station `s` at event time `ts`, if any. */
  active(s: number, ts: number): Incident | undefined {
    const list = this.byStation.get(s);
    if (list === undefined) return undefined;
    for (const incident of list) if (incident.start <= ts && ts < incident.end) return incident;
    return undefined;
  }

  /** Whether station `s` sends nothing at `ts`. */
  silent(s: number, ts: number): boolean {
    return this.active(s, ts)?.kind === 'silent';
  }

  /**
   * The value a station reports for `metric` at `ts` during `incident` (looked up once per reading
   * with `active`), given what it would report without it (`value`), the metric's normal stddev and a
   * normal deviate to use for extra noise.
   */
  apply(
    incident: Incident,
    s: number,
    ts: number,
    metric: string,
    value: number,
    stddev: number,
    gaussian: number,
  ): number {
    switch (incident.kind) {
      case 'heat':
        return metric === 'temperature' ? value + HEAT_DEGREES : value;
      case 'noisy':
        return metric === 'noise_level' ? value + NOISE_SIGMAS * stddev * gaussian : value;
      case 'drift':
        return metric === 'pressure' ? value + (DRIFT_PER_SECOND * (ts - incident.start)) / 1000 : value;
      case 'stuck': {
        if (metric !== 'humidity') return value;
        const key = `${incident.id}:${s}`;
        const held = this.stuckAt.get(key);
        if (held !== undefined) return held;
        this.stuckAt.set(key, value);
        return value;
      }
      case 'silent':
        return value;
    }
  }
}
