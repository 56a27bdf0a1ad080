/**
 * An independent reference computation of what Vigil must produce for a recorded input, for the
 * acceptance tests. It shares no processing code with src/core: windows are recomputed by brute
 * force over the raw values they took, quantiles are exact order statistics, partitions come from
 * kafkajs' own partitioner. It implements the documented semantics (README, "Event time"):
 *
 * - records of a partition are processed in log order; invalid ones are dead letters;
 * - stream time = highest event time in the partition; a sensor whose last reading is `idle` (or
 *   `silence`) of stream time behind gets an idle (silence) tick at that record;
 * - per sensor: repeats (the time of a reading taken, and its values or seq) within the dedupe horizon
 *   behind the newest are dropped; watermark = max(highest in-time event
 *   time − out-of-orderness, stream time − out-of-orderness at the last idle tick); a reading joins
 *   every window that contains it and is not final (end + lateness > watermark); none -> late;
 * - rules run on in-time readings (threshold, outlier), closed windows (count: each window over the
 *   threshold while firing is reported again), ticks (silence).
 */
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { alertId } from '../../src/core/alert-id.js';

export type RefWindow =
  | { kind: 'tumbling'; name: string; size: number }
  | { kind: 'sliding'; name: string; size: number; slide: number }
  | { kind: 'session'; name: string; gap: number };

export type RefRule =
  | { kind: 'threshold'; id: string; metric: string; above: number; hysteresis: number; severity: string }
  | {
      kind: 'outlier';
      id: string;
      metric: string;
      zScore: number;
      mean: number;
      stddev: number;
      severity: string;
    }
  | { kind: 'count'; id: string; window: string; metric: string; above: number; severity: string }
  | { kind: 'silence'; id: string; after: number; severity: string };

export interface RefConfig {
  partitions: number;
  outOfOrderness: number;
  allowedLateness: number;
  idleTimeout: number;
  dedupeHorizon: number;
  windows: RefWindow[];
  rules: RefRule[];
  /** readings.clock.gap, when clock records are on. */
  clockGapMs?: number;
}

export interface RefWindowResult {
  id: string;
  sensorId: string;
  metric: string;
  window: string;
  start: number;
  end: number;
  values: number[];
  /** [ts, value] in arrival order, for first/last. */
  timed: [number, number][];
}

export interface RefAlert {
  id: string;
  ruleId: string;
  sensorId: string;
  state: 'firing' | 'resolved';
  ts: number;
  startedAt: number;
  value: number;
}

export interface RefOutput {
  windows: Map<string, RefWindowResult>;
  alerts: Map<string, RefAlert>;
  /** `${partition}:${offset}` */
  late: Set<string>;
  dlq: Set<string>;
  /** `${sensorId}/${metric}/${minute}` -> values */
  rollups: Map<string, number[]>;
  /** The same keys -> the event time of each value, in the same order */
  stamps: Map<string, number[]>;
}

interface Reading {
  sensorId: string;
  ts: number;
  values: Record<string, number>;
  seq?: number;
}

/** config `limits` at their defaults, as the engine applies them. */
const LIMITS = {
  maxRecordBytes: 262_144,
  maxMetrics: 64,
  maxMetricNameLength: 128,
  maxSensorIdLength: 256,
  maxAbsValue: 1e100,
  maxFutureMs: 600_000,
};

/**
 * A reading, or undefined for a dead letter. Event time more than limits.maxFuture ahead of the
 * broker's time is one: the broker takes the record after this runs, so now is a lower bound of its
 * time, and the inputs are either in the past or centuries ahead.
 */
function valid(json: unknown, brokerTime = Number.POSITIVE_INFINITY): Reading | undefined {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
  const o = json as Record<string, unknown>;
  if (
    typeof o['sensorId'] !== 'string' ||
    o['sensorId'].length === 0 ||
    o['sensorId'].length > LIMITS.maxSensorIdLength
  )
    return undefined;
  if (typeof o['ts'] !== 'number' || !Number.isInteger(o['ts']) || o['ts'] < 0) return undefined;
  const taken = Number.isFinite(brokerTime) ? brokerTime : Date.now();
  if (o['ts'] > taken + LIMITS.maxFutureMs) return undefined;
  const values = o['values'];
  if (typeof values !== 'object' || values === null || Array.isArray(values)) return undefined;
  if (Object.prototype.hasOwnProperty.call(values, '__proto__')) return undefined;
  const entries = Object.entries(values as Record<string, unknown>);
  if (
    entries.length === 0 ||
    entries.length > LIMITS.maxMetrics ||
    entries.some(
      ([k, v]) =>
        k.length === 0 ||
        k.length > LIMITS.maxMetricNameLength ||
        typeof v !== 'number' ||
        !(Math.abs(v) <= LIMITS.maxAbsValue),
    )
  )
    return undefined;
  const seq = o['seq'];
  if (seq !== undefined && (typeof seq !== 'number' || !Number.isInteger(seq) || seq < 0)) return undefined;
  return {
    sensorId: o['sensorId'],
    ts: o['ts'],
    values: values as Record<string, number>,
    ...(seq === undefined ? {} : { seq: seq }),
  };
}

interface Session {
  start: number;
  last: number;
  readings: [number, Record<string, number>][];
}

class RefSensor {
  maxTs = -Infinity;
  idleWm = -Infinity;
  dedupeMax = -Infinity;
  seen = new Set<string>();
  /** spec name -> window start -> readings taken */
  open = new Map<string, Map<number, [number, Record<string, number>][]>>();
  emittedUpTo = new Map<string, number>();
  sessions = new Map<string, Session[]>();
  minutes = new Map<number, [number, Record<string, number>][]>();
  rules = new Map<string, { firing: number | null }>();

  constructor(
    readonly id: string,
    private readonly c: RefConfig,
    private readonly out: RefOutput,
  ) {}

  wm(): number {
    return Math.max(this.maxTs - this.c.outOfOrderness, this.idleWm);
  }

  private windowsOf(w: Exclude<RefWindow, { kind: 'session' }>, ts: number): number[] {
    const slide = w.kind === 'sliding' ? w.slide : w.size;
    const starts: number[] = [];
    for (let s = Math.floor(ts / slide) * slide; s > ts - w.size; s -= slide) starts.push(s);
    return starts;
  }

  reading(r: Reading, lateKey: string): void {
    // dedupe: a repeat has the time of a reading taken and its values or its seq, within the horizon
    if (this.c.dedupeHorizon > 0 && r.ts >= this.dedupeMax - this.c.dedupeHorizon) {
      const keys = [
        `f${r.ts}|${Object.keys(r.values)
          .sort()
          .map((k) => `${k}=${String(r.values[k])}`)
          .join('|')}`,
      ];
      if (r.seq !== undefined) keys.push(`s${r.seq}@${r.ts}`);
      if (keys.some((k) => this.seen.has(k))) return;
      for (const k of keys) this.seen.add(k);
      this.dedupeMax = Math.max(this.dedupeMax, r.ts);
    }
    // any reading that is not a repeat ends a silence
    for (const rule of this.c.rules) {
      if (rule.kind === 'silence') {
        const st = this.rule(rule.id);
        if (st.firing !== null) {
          this.alert(rule.id, 'resolved', st.firing, r.ts, 0);
          st.firing = null;
        }
      }
    }

    const wm = this.wm();
    let taken = false;
    for (const w of this.c.windows) {
      if (w.kind === 'session') {
        const list = this.sessions.get(w.name) ?? [];
        const overlapping = list.filter((s) => r.ts < s.last + w.gap && r.ts + w.gap > s.start);
        if (overlapping.length === 0 && r.ts + w.gap + this.c.allowedLateness <= wm) continue;
        const merged: Session = { start: r.ts, last: r.ts, readings: [] };
        for (const s of overlapping) {
          merged.start = Math.min(merged.start, s.start);
          merged.last = Math.max(merged.last, s.last);
          merged.readings.push(...s.readings);
        }
        merged.readings.push([r.ts, r.values]);
        this.sessions.set(
          w.name,
          [...list.filter((s) => !overlapping.includes(s)), merged].sort((a, b) => a.start - b.start),
        );
        taken = true;
      } else {
        const byStart = this.open.get(w.name) ?? new Map<number, [number, Record<string, number>][]>();
        this.open.set(w.name, byStart);
        for (const start of this.windowsOf(w, r.ts)) {
          if (start + w.size + this.c.allowedLateness <= wm) continue;
          const list = byStart.get(start) ?? [];
          list.push([r.ts, r.values]);
          byStart.set(start, list);
          taken = true;
        }
      }
    }
    if (!taken) {
      this.out.late.add(lateKey);
      return;
    }
    const minute = Math.floor(r.ts / 60_000) * 60_000;
    if (minute + 60_000 + this.c.allowedLateness > wm) {
      const list = this.minutes.get(minute) ?? [];
      list.push([r.ts, r.values]);
      this.minutes.set(minute, list);
    }
    for (const rule of this.c.rules) {
      if (rule.kind !== 'threshold' && rule.kind !== 'outlier') continue;
      const v = r.values[rule.metric];
      if (v === undefined) continue;
      const st = this.rule(rule.id);
      const breach =
        rule.kind === 'threshold' ? v > rule.above : Math.abs(v - rule.mean) / rule.stddev > rule.zScore;
      const clear = rule.kind === 'threshold' ? v <= rule.above - rule.hysteresis : !breach;
      if (st.firing === null && breach) {
        st.firing = r.ts;
        this.alert(rule.id, 'firing', r.ts, r.ts, v);
      } else if (st.firing !== null && clear) {
        this.alert(rule.id, 'resolved', st.firing, r.ts, v);
        st.firing = null;
      }
    }
    if (r.ts > this.maxTs) {
      this.maxTs = r.ts;
      this.close();
    }
  }

  idle(streamTime: number): void {
    const wm = streamTime - this.c.outOfOrderness;
    if (wm > this.idleWm) {
      this.idleWm = wm;
      this.close();
    }
  }

  silence(streamTime: number, lastSeen: number): void {
    for (const rule of this.c.rules) {
      if (rule.kind !== 'silence') continue;
      const st = this.rule(rule.id);
      if (st.firing !== null || streamTime - lastSeen < rule.after) continue;
      st.firing = this.maxTs;
      this.alert(rule.id, 'firing', this.maxTs, lastSeen + rule.after, 0);
    }
  }

  private rule(id: string): { firing: number | null } {
    let st = this.rules.get(id);
    if (st === undefined) {
      st = { firing: null };
      this.rules.set(id, st);
    }
    return st;
  }

  private alert(
    ruleId: string,
    state: 'firing' | 'resolved',
    startedAt: number,
    ts: number,
    value: number,
    reportOf?: number,
  ): void {
    const id = alertId(ruleId, this.id, startedAt, state, reportOf);
    this.out.alerts.set(id, { id, ruleId, sensorId: this.id, state, ts, startedAt, value });
  }

  private emit(w: RefWindow, start: number, end: number, readings: [number, Record<string, number>][]): void {
    const metrics = new Set(readings.flatMap(([, v]) => Object.keys(v)));
    for (const metric of [...metrics].sort()) {
      const timed = readings
        .filter(([, v]) => v[metric] !== undefined)
        .map(([ts, v]): [number, number] => [ts, v[metric] as number]);
      const id = `${this.id}/${w.name}/${metric}/${start}`;
      this.out.windows.set(id, {
        id,
        sensorId: this.id,
        metric,
        window: w.name,
        start,
        end,
        values: timed.map((t) => t[1]),
        timed,
      });
      this.countRules(w, metric, start, end, timed.length);
    }
    // A window without a rule's metric holds 0 of it.
    for (const rule of this.c.rules) {
      if (rule.kind === 'count' && rule.window === w.name && !metrics.has(rule.metric))
        this.countRules(w, rule.metric, start, end, 0);
    }
  }

  private countRules(w: RefWindow, metric: string, start: number, end: number, n: number): void {
    for (const rule of this.c.rules) {
      if (rule.kind !== 'count' || rule.window !== w.name || rule.metric !== metric) continue;
      const st = this.rule(rule.id);
      if (st.firing === null && n > rule.above) {
        st.firing = start;
        this.alert(rule.id, 'firing', start, end, n);
      } else if (st.firing !== null && n > rule.above) {
        this.alert(rule.id, 'firing', st.firing, end, n, start); // the next window over it: reported too
      } else if (st.firing !== null && n <= rule.above) {
        this.alert(rule.id, 'resolved', st.firing, end, n);
        st.firing = null;
      }
    }
  }

  private close(): void {
    const wm = this.wm();
    for (const w of this.c.windows) {
      if (w.kind === 'session') {
        const list = this.sessions.get(w.name) ?? [];
        const due = list.filter((s) => s.last + w.gap + this.c.allowedLateness <= wm);
        this.sessions.set(
          w.name,
          list.filter((s) => !due.includes(s)),
        );
        for (const s of due) this.emit(w, s.start, s.last + w.gap, s.readings);
      } else {
        const byStart = this.open.get(w.name);
        if (byStart === undefined) continue;
        for (const start of [...byStart.keys()].sort((a, b) => a - b)) {
          if (start + w.size + this.c.allowedLateness > wm) continue;
          this.emit(w, start, start + w.size, byStart.get(start) ?? []);
          byStart.delete(start);
        }
      }
    }
    for (const minute of [...this.minutes.keys()]) {
      if (minute + 60_000 + this.c.allowedLateness > wm) continue;
      const list = this.minutes.get(minute) ?? [];
      this.minutes.delete(minute);
      const metrics = new Set(list.flatMap(([, v]) => Object.keys(v)));
      for (const metric of metrics) {
        const has = list.filter(([, v]) => v[metric] !== undefined);
        this.out.rollups.set(
          `${this.id}/${metric}/${minute}`,
          has.map(([, v]) => v[metric] as number),
        );
        this.out.stamps.set(
          `${this.id}/${metric}/${minute}`,
          has.map(([ts]) => ts),
        );
      }
    }
  }
}

/**
 * A record as a partition of vigil.readings holds it: read back from Kafka, clock records included.
 * `timestamp` is the broker's (the topics are LogAppendTime).
 */
export interface LoggedRecord {
  readonly key: string;
  readonly value: string;
  readonly offset: number;
  readonly timestamp: number;
  readonly clock: boolean;
}

/** The expected outputs of `records` (in produce order) under `c`. */
export function reference(records: readonly { key: string; value: string }[], c: RefConfig): RefOutput {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata: PartitionMetadata[] = Array.from({ length: c.partitions }, (_, i) => ({
    partitionId: i,
    leader: 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
  }));
  const byPartition: LoggedRecord[][] = Array.from({ length: c.partitions }, () => []);
  for (const r of records) {
    const list =
      byPartition[partitioner({ topic: 't', partitionMetadata, message: { key: r.key, value: r.value } })];
    list?.push({ ...r, offset: list.length, timestamp: Number.POSITIVE_INFINITY, clock: false });
  }
  return referenceOfLog(byPartition, c);
}

/**
 * The expected outputs of what each partition of vigil.readings holds, in log order: stream time moves
 * with each reading (at most to its broker time) and with each clock record (to its broker time); a
 * jump of stream time longer than `c.clockGapMs` starts the silence timers again at its end.
 */
export function referenceOfLog(partitions: readonly (readonly LoggedRecord[])[], c: RefConfig): RefOutput {
  const out: RefOutput = {
    windows: new Map(),
    alerts: new Map(),
    late: new Set(),
    dlq: new Set(),
    rollups: new Map(),
    stamps: new Map(),
  };
  const silenceAfter = Math.min(...c.rules.flatMap((r) => (r.kind === 'silence' ? [r.after] : [Infinity])));
  partitions.forEach((list, partition) => {
    const sensors = new Map<string, RefSensor>();
    const lastSeen = new Map<string, number>();
    /** When each sensor's silence timer started: its last reading, or the end of a gap since. */
    const silentFrom = new Map<string, number>();
    const idled = new Set<string>();
    const silenced = new Set<string>();
    let streamTime = -Infinity;
    const moveTo = (t: number): void => {
      if (t <= streamTime) return;
      if (c.clockGapMs !== undefined && Number.isFinite(streamTime) && t - streamTime > c.clockGapMs)
        for (const id of silentFrom.keys()) silentFrom.set(id, t);
      streamTime = t;
    };
    const ticks = (): void => {
      for (const [id, seen] of lastSeen) {
        const s = sensors.get(id);
        if (s === undefined) continue;
        if (!idled.has(id) && streamTime - seen >= c.idleTimeout) {
          idled.add(id);
          s.idle(streamTime);
        }
        const from = silentFrom.get(id) ?? seen;
        if (!silenced.has(id) && streamTime - from >= silenceAfter) {
          silenced.add(id);
          s.silence(streamTime, from);
        }
      }
    };
    for (const rec of list) {
      if (rec.clock) {
        moveTo(rec.timestamp);
        ticks();
        continue;
      }
      let reading: Reading | undefined;
      try {
        reading =
          Buffer.byteLength(rec.value) > LIMITS.maxRecordBytes
            ? undefined
            : valid(JSON.parse(rec.value), rec.timestamp);
      } catch {
        reading = undefined;
      }
      if (reading === undefined) {
        out.dlq.add(`${partition}:${rec.offset}`);
        continue;
      }
      let sensor = sensors.get(reading.sensorId);
      if (sensor === undefined) {
        sensor = new RefSensor(reading.sensorId, c, out);
        sensors.set(reading.sensorId, sensor);
      }
      sensor.reading(reading, `${partition}:${rec.offset}`);
      moveTo(Math.min(reading.ts, rec.timestamp));
      lastSeen.set(reading.sensorId, streamTime);
      silentFrom.set(reading.sensorId, streamTime);
      idled.delete(reading.sensorId);
      silenced.delete(reading.sensorId);
      ticks();
    }
  });
  return out;
}
