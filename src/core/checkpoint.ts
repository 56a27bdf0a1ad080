import { VigilError } from '../errors.js';
import type { SensorSnapshot } from './sensor.js';
import type { StreamClockSnapshot } from './stream-clock.js';

/**
 * Checkpoint encodings. A sensor snapshot is UTF-8 JSON of SensorSnapshot (`v` is the format version);
 * the partition's own state (stream clock) likewise. JSON keeps checkpoints readable with redis-cli and
 * diffable in golden fixtures (test/fixtures/); the tuple forms inside keep them compact.
 */
export const SENSOR_SNAPSHOT_VERSION = 2;
/** Versions this build restores: 1 differs only in the dedupe index (JSON pairs, not packed). */
const READABLE_VERSIONS: readonly unknown[] = [1, 2];

export function encodeSensorSnapshot(s: SensorSnapshot): Buffer {
  return Buffer.from(JSON.stringify(s), 'utf8');
}

export function decodeSensorSnapshot(bytes: Buffer | string): SensorSnapshot {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch (err) {
    throw new VigilError('sensor checkpoint is not valid JSON', { code: 'CHECKPOINT_CORRUPT', cause: err });
  }
  const v = (parsed as { v?: unknown } | null)?.v;
  if (!READABLE_VERSIONS.includes(v)) {
    throw new VigilError(
      `sensor checkpoint has format version ${String(v)}; this build reads ${READABLE_VERSIONS.join(' and ')}`,
      {
        code: 'CHECKPOINT_VERSION',
      },
    );
  }
  return parsed as SensorSnapshot;
}

/**
 * The partition-level state stored beside the sensor snapshots. Version 2 holds stream time only:
 * the clock's per-sensor entries are written incrementally beside it (StreamClock.takeChanges), so a
 * checkpoint costs the sensors that changed, not every sensor tracked. Version 1 held the whole clock.
 */
export type PartitionState =
  { readonly v: 2; readonly st: number | null } | { readonly v: 1; readonly clock: StreamClockSnapshot };

export function encodePartitionState(s: PartitionState): Buffer {
  return Buffer.from(JSON.stringify(s), 'utf8');
}

export function decodePartitionState(bytes: Buffer | string): PartitionState {
  const parsed = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8')) as PartitionState;
  const v = (parsed as { v: unknown }).v;
  if (v !== 1 && v !== 2)
    throw new VigilError(`partition state has format version ${String(v)}; this build reads 1 and 2`, {
      code: 'CHECKPOINT_VERSION',
    });
  return parsed;
}
