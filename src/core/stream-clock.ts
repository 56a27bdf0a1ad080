/**
 * Stream time of one partition: the highest event time seen in it, in log order.
 *
 * Why stream time and not the wall clock: idle timeouts and silence rules must give the SAME result
 * when a partition is replayed after a crash, or exactly-once is lost. A wall-clock timer fires at a
 * different point of the input on every run; stream time advances at exactly the same records. So a
 * sensor is "idle" (its open windows close) or "silent" (silence rules fire) when the partition's
 * stream time has moved on by the timeout since the sensor's last reading. The ticks are emitted at a
 * position in the record sequence, independent of how the log was cut into batches.
 *
 * A partition that receives nothing still moves: one node appends a clock record to every readings
 * partition on a wall-clock timer (engine/clock-writer.ts), and stream time moves to its broker time
 * (advance), at that record of the log, so a replay moves it at the same place. Silence is heard.
 *
 * A jump of stream time longer than `gapMs` means nothing at all was written for that long, not even
 * clock records: Vigil or Kafka was down, and nobody observed the sensors. Their silence timers then
 * start again at the end of the gap, so a network that resumes with Vigil is not reported silent for
 * the time nobody was listening (a sensor still silent `after` later is). Idle ticks are not held back:
 * the windows of that time are long final.
 */
export interface Tick {
  readonly tick: 'idle' | 'silence';
  /** Stream time when the tick fired. */
  readonly streamTime: number;
  /** Stream time at the sensor's last reading. */
  readonly lastSeen: number;
}

export interface StreamClockSnapshot {
  readonly st: number | null;
  readonly idle: readonly (readonly [string, number])[];
  /**
   * One queue per silence threshold: [afterMs, [sensor, lastSeen][]]. Checkpoints written before
   * thresholds had queues of their own hold the single queue's entries directly; they restore into
   * the shortest threshold.
   */
  readonly silence: readonly (readonly [number, readonly (readonly [string, number])[]])[] | LegacyQueue;
}

type LegacyQueue = readonly (readonly [string, number])[];

/**
 * Stream time, and the sensors waiting for an idle or silence tick. Each silence threshold (the
 * `after` of a silence rule) has its own queue, so rules of different lengths each get their tick.
 * Thresholds follow the rules in force (setSilenceThresholds); a new one starts tracking a sensor at
 * its next reading.
 */
export class StreamClock {
  private streamTime = Number.NEGATIVE_INFINITY;
  /** sensor -> stream time of its last reading; insertion order is lastSeen order (stream time never decreases). */
  private idle = new Map<string, number>();
  private thresholds: readonly number[] | undefined;
  /** afterMs -> its queue, same shape as `idle`. */
  private silence = new Map<number, Map<string, number>>();
  /** Sensors whose entry changed since the last takeChanges(): what the next checkpoint writes. */
  private changed = new Set<string>();

  constructor(
    private readonly idleTimeoutMs: number | undefined,
    silenceThresholdsMs: readonly number[],
    /** A jump of stream time longer than this restarts the silence timers (undefined: never). */
    private readonly gapMs?: number,
  ) {
    this.setSilenceThresholds(silenceThresholdsMs);
  }

  get now(): number {
    return this.streamTime;
  }

  /** Stream time, or undefined before anything came. */
  get known(): number | undefined {
    return Number.isFinite(this.streamTime) ? this.streamTime : undefined;
  }

  /** The silence thresholds in force: queues of new ones start empty, removed ones are dropped. */
  setSilenceThresholds(thresholdsMs: readonly number[]): void {
    // Called once per batch with the engine's current list, which is a new array only when rules change.
    if (thresholdsMs === this.thresholds) return;
    this.thresholds = thresholdsMs;
    const wanted = new Set(thresholdsMs);
    for (const t of this.silence.keys()) if (!wanted.has(t)) this.silence.delete(t);
    for (const t of wanted) if (!this.silence.has(t)) this.silence.set(t, new Map());
  }

  /** Records a reading of `sensorId` at event time `ts`; calls `emit` for every tick now due. */
  observe(sensorId: string, ts: number, emit: (sensorId: string, tick: Tick) => void): void {
    this.moveTo(ts);
    const now = this.streamTime;
    const changed = this.changed;
    changed.add(sensorId);
    if (this.idleTimeoutMs !== undefined) {
      this.idle.delete(sensorId);
      this.idle.set(sensorId, now);
    }
    for (const queue of this.silence.values()) {
      queue.delete(sensorId);
      queue.set(sensorId, now);
    }
    this.drainAll(emit);
  }

  /** Stream time moves to `ts` (a clock record's broker time); calls `emit` for every tick now due. */
  advance(ts: number, emit: (sensorId: string, tick: Tick) => void): void {
    if (ts <= this.streamTime) return;
    this.moveTo(ts);
    this.drainAll(emit);
  }

  /**
   * The sensor is expected to report: the silence rules watch it from now, as if it had just been
   * heard of. A sensor already watched keeps its timers (declaring one again changes nothing).
   */
  expect(sensorId: string, emit: (sensorId: string, tick: Tick) => void): void {
    if (this.idle.has(sensorId)) return;
    for (const queue of this.silence.values()) if (queue.has(sensorId)) return;
    const now = this.streamTime;
    if (!Number.isFinite(now)) return; // nothing ever came: no time to start watching from
    for (const queue of this.silence.values()) queue.set(sensorId, now);
    this.changed.add(sensorId);
    this.drainAll(emit);
  }

  private moveTo(ts: number): void {
    if (ts <= this.streamTime) return;
    const from = this.streamTime;
    this.streamTime = ts;
    if (this.gapMs === undefined || !Number.isFinite(from) || ts - from <= this.gapMs) return;
    // Nobody observed the gap: every silence timer starts again at its end (see the class comment).
    for (const queue of this.silence.values()) {
      for (const id of queue.keys()) {
        queue.set(id, ts);
        this.changed.add(id);
      }
    }
  }

  private drainAll(emit: (sensorId: string, tick: Tick) => void): void {
    const now = this.streamTime;
    const changed = this.changed;
    const fired = (id: string, tick: Tick): void => {
      changed.add(id);
      emit(id, tick);
    };
    if (this.idleTimeoutMs !== undefined) drain(this.idle, now, this.idleTimeoutMs, 'idle', fired);
    for (const [afterMs, queue] of this.silence) drain(queue, now, afterMs, 'silence', fired);
  }

  /**
   * The entries that changed since the last call, for an incremental checkpoint: sensor -> its entry
   * (`lastSeen` and the queues it still waits in, see entryOf), or null when it waits in none any more.
   * A checkpoint so writes what the batches since the last one touched, not every sensor tracked.
   */
  takeChanges(): Map<string, string | null> {
    const out = new Map<string, string | null>();
    for (const id of this.changed) out.set(id, this.entryOf(id));
    this.changed = new Set();
    return out;
  }

  /** `<lastSeen>` then `i` when in the idle queue, then `s<afterMs>` per silence queue, `|`-separated. */
  private entryOf(sensorId: string): string | null {
    let lastSeen = this.idle.get(sensorId);
    const parts: string[] = lastSeen === undefined ? [] : ['i'];
    for (const [afterMs, queue] of this.silence) {
      const seen = queue.get(sensorId);
      if (seen === undefined) continue;
      lastSeen = seen;
      parts.push(`s${afterMs}`);
    }
    return lastSeen === undefined ? null : [String(lastSeen), ...parts].join('|');
  }

  /**
   * Restores from stream time and the entries of every tracked sensor (an incremental checkpoint).
   * Queues are ordered by lastSeen, which is all their draining relies on: the ticks come at the
   * same records as before the checkpoint. `inStore` false: the entries are not in the store (an
   * upgraded version 1 clock), so the next checkpoint writes them all.
   */
  restoreEntries(streamTime: number | null, entries: ReadonlyMap<string, string>, inStore = true): this {
    this.streamTime = streamTime ?? Number.NEGATIVE_INFINITY;
    const parsed: [string, number, string[]][] = [];
    for (const [id, entry] of entries) {
      const [seen = '', ...queues] = entry.split('|');
      parsed.push([id, Number(seen), queues]);
    }
    parsed.sort((a, b) => a[1] - b[1]);
    this.idle = new Map();
    for (const q of this.silence.values()) q.clear();
    for (const [id, lastSeen, queues] of parsed) {
      for (const q of queues) {
        if (q === 'i') {
          if (this.idleTimeoutMs !== undefined) this.idle.set(id, lastSeen);
        } else this.silence.get(Number(q.slice(1)))?.set(id, lastSeen);
      }
    }
    this.changed = inStore ? new Set() : new Set(entries.keys());
    return this;
  }

  /** The whole clock (what version 1 partition states held; what inspection shows). */
  snapshot(): StreamClockSnapshot {
    return {
      st: Number.isFinite(this.streamTime) ? this.streamTime : null,
      idle: [...this.idle],
      silence: [...this.silence].map(([afterMs, queue]) => [afterMs, [...queue]] as const),
    };
  }
}

function drain(
  queue: Map<string, number>,
  now: number,
  timeout: number,
  tick: Tick['tick'],
  emit: (sensorId: string, tick: Tick) => void,
): void {
  for (const [sensorId, lastSeen] of queue) {
    if (now - lastSeen < timeout) return;
    queue.delete(sensorId);
    emit(sensorId, { tick, streamTime: now, lastSeen });
  }
}
