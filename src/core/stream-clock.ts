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
 * Known limit: a partition that receives nothing at all has no stream time to advance.
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
  readonly silence: readonly (readonly [string, number])[];
}

export class StreamClock {
  private streamTime = Number.NEGATIVE_INFINITY;
  /** sensor -> stream time of its last reading; insertion order is lastSeen order (stream time never decreases). */
  private idle = new Map<string, number>();
  private silence = new Map<string, number>();

  constructor(
    private readonly idleTimeoutMs: number | undefined,
    private readonly silenceAfterMs: number | undefined,
  ) {}

  get now(): number {
    return this.streamTime;
  }

  /** Records a reading of `sensorId` at event time `ts`; calls `emit` for every tick now due. */
  observe(sensorId: string, ts: number, emit: (sensorId: string, tick: Tick) => void): void {
    if (ts > this.streamTime) this.streamTime = ts;
    const now = this.streamTime;
    if (this.idleTimeoutMs !== undefined) {
      this.idle.delete(sensorId);
      this.idle.set(sensorId, now);
      drain(this.idle, now, this.idleTimeoutMs, 'idle', emit);
    }
    if (this.silenceAfterMs !== undefined) {
      this.silence.delete(sensorId);
      this.silence.set(sensorId, now);
      drain(this.silence, now, this.silenceAfterMs, 'silence', emit);
    }
  }

  snapshot(): StreamClockSnapshot {
    return {
      st: Number.isFinite(this.streamTime) ? this.streamTime : null,
      idle: [...this.idle],
      silence: [...this.silence],
    };
  }

  restore(s: StreamClockSnapshot): this {
    this.streamTime = s.st ?? Number.NEGATIVE_INFINITY;
    this.idle = new Map(s.idle);
    this.silence = new Map(s.silence);
    return this;
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
