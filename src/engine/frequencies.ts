import type { SensorEvent } from '../core/sensor.js';
import type { Logger } from '../obs/logger.js';
import type { StateStore } from '../ports/state-store.js';

/**
 * Live event frequencies for the dashboard: readings per sensor and per event type (each metric a
 * reading carries) are counted in memory and added to the store once a second, so the hot path pays
 * two map updates per sensor and metric of a batch, and Redis one pipeline a second per node.
 * Wall-clock statistics, not results: a replay counts its events again. At most `MAX_KEYS` sensors and
 * as many event types are counted apart per second, the rest together as `(others)`: a device trying
 * ever new metric names, or a burst of new sensors, cannot make a second's counts grow without bound.
 */
/** Keys counted apart per second (sensors, and event types); the rest go to OTHERS. */
const MAX_KEYS = 10_000;
const OTHERS = '(others)';

function count(counts: Map<string, number>, key: string, n: number): void {
  const k = counts.has(key) || counts.size < MAX_KEYS ? key : OTHERS;
  counts.set(k, (counts.get(k) ?? 0) + n);
}

export class FrequencyCounter {
  private sensors = new Map<string, number>();
  private types = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Pick<StateStore, 'addFrequencies'>,
    private readonly logger: Logger,
  ) {}

  add(groups: ReadonlyMap<string, readonly SensorEvent[]>): void {
    for (const [sensorId, events] of groups) {
      let readings = 0;
      for (const e of events) {
        if ('tick' in e) continue;
        readings++;
        for (const metric in e.values) count(this.types, metric, 1);
      }
      if (readings > 0) count(this.sensors, sensorId, readings);
    }
  }

  start(): void {
    this.timer = setInterval(() => {
      this.flush().catch((err: unknown) => {
        this.logger.warn({ err }, 'writing event frequencies failed; these counts are dropped');
      });
    }, 1_000);
  }

  /** Adds what was counted since the last flush to the second that just ended. */
  async flush(): Promise<void> {
    if (this.sensors.size === 0 && this.types.size === 0) return;
    const counts = { sensors: this.sensors, types: this.types };
    this.sensors = new Map();
    this.types = new Map();
    await this.store.addFrequencies(Math.floor(Date.now() / 1000) - 1, counts);
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush().catch(() => undefined);
  }
}
