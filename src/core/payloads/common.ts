import type { Reading } from '../reading.js';

/** What the payload decoders share (index.ts tells what they read). */

/** Fields of a JSON reading (the first present wins); a flat reading's other numeric fields are metrics. */
export interface JsonFieldNames {
  readonly id: readonly string[];
  readonly time: readonly string[];
  readonly seq: readonly string[];
}

/** Timestamps of line protocol: what its integers count (Telegraf and InfluxDB write nanoseconds). */
export type LinePrecision = 'ns' | 'us' | 'ms' | 's';

/** What a payload's surroundings say about it. */
export interface PayloadContext {
  /** The sensor a payload that names none is about: from the MQTT topic, or the record's key. */
  readonly sensorId?: string | undefined;
  /** When a payload that gives no time was received: the bridge's clock, or the record's broker time. */
  readonly receivedAt?: number | undefined;
}

export interface DecodedPayload {
  readonly readings: Reading[];
  /** What could not be read, each naming the format and where. */
  readonly errors: string[];
}

/** Sets one metric, refusing a name no object can hold as its own. */
export function setMetric(values: Record<string, number>, name: string, v: number): string | undefined {
  if (name === '__proto__') return 'values: "__proto__" is not allowed as a metric name';
  values[name] = v;
  return undefined;
}
