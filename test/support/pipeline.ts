import { AGGREGATES } from '../../src/core/aggregate.js';
import type { SensorPipeline } from '../../src/core/sensor.js';

/** A pipeline exercising every window kind and the reading rules, for unit tests. */
export function testPipeline(overrides: Partial<SensorPipeline> = {}): SensorPipeline {
  return {
    windows: [
      { kind: 'tumbling', name: 'tumbling-10s', sizeMs: 10_000 },
      { kind: 'sliding', name: 'sliding-20s-10s', sizeMs: 20_000, slideMs: 10_000 },
      { kind: 'session', name: 'session-5s', gapMs: 5_000 },
    ],
    window: {
      allowedLatenessMs: 1_000,
      aggregates: [...AGGREGATES],
      withSketch: true,
      metrics: undefined,
    },
    rules: [
      {
        kind: 'threshold',
        id: 'hot',
        metric: 't',
        above: 30,
        hysteresis: 1,
        minDurationMs: 0,
        severity: 'critical',
        labels: {},
      },
      {
        kind: 'count',
        id: 'busy',
        window: 'tumbling-10s',
        metric: 't',
        above: 3,
        severity: 'info',
        labels: {},
      },
      { kind: 'silence', id: 'quiet', afterMs: 30_000, severity: 'warning', labels: {} },
    ],
    outOfOrdernessMs: 2_000,
    dedupeHorizonMs: 60_000,
    idleTimeoutMs: 15_000,
    rollups: true,
    rawReadings: true,
    maxHeldEvents: 10_000,
    ...overrides,
  };
}

/** Sends a value through JSON and back, as a checkpoint does. */
export function roundTrip<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
