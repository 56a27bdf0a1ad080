import { restoreSnapshot, upgradeDedupePairs } from './checkpoint-legacy.js';
import { packEntries, unpackEntries } from './dedupe.js';
import { VigilError } from './errors.js';
import {
  SensorProcessor,
  type SensorCheckpoint,
  type SensorMain,
  type SensorPart,
  type SensorPipeline,
  type SensorSnapshot,
} from './sensor.js';
import type { StreamClockSnapshot } from './stream-clock.js';
import type { MetricsSnapshot } from './windows.js';

/**
 * Checkpoint encodings.
 *
 * A sensor's state, version 4 (SensorProcessor.checkpoint): a MAIN record, UTF-8 JSON of SensorMain,
 * and PARTS written only when they change: window panes (UTF-8 JSON of their metrics, so they start
 * with "[") and dedupe segments (binary: the byte 0x02, then 16-byte entries, core/dedupe.ts
 * packEntries). Version 3 differed in its dedupe segments only (the byte 0x01, then float64 key, ts
 * pairs); they are upgraded on reading. Versions 1 and 2 were one JSON record holding everything
 * (SensorSnapshot); they are still restored, from a main record with no parts. The partition's own state (stream clock) is JSON too. JSON keeps
 * checkpoints readable with redis-cli and diffable in golden fixtures (test/fixtures/); the tuple
 * forms inside keep them compact.
 */
/**
 * Versions this build restores; it writes 4 (SensorMain.v). 1 differs from 2 only in the dedupe
 * index (JSON pairs, not packed).
 */
const READABLE_VERSIONS: readonly unknown[] = [1, 2, 3, 4];
/** The first byte of a dedupe segment: version 3's key/ts pairs, or today's entries. */
const DEDUPE_PAIRS = 0x01;
const DEDUPE_ENTRIES = 0x02;

/** A sensor's state as the store holds it: the main record and every part, by name. */
export interface StoredSensor {
  readonly main: Buffer;
  readonly parts: ReadonlyMap<string, Buffer>;
}

/**
 * What one checkpoint writes of a sensor: its main record, the parts changed (null: removed), and
 * bytes to append to stored parts (a name is never in both maps).
 */
export interface SensorStateWrite {
  readonly main: Buffer;
  readonly parts: ReadonlyMap<string, Buffer | null>;
  readonly appends: ReadonlyMap<string, Buffer>;
}

export function encodeSensorCheckpoint(c: SensorCheckpoint): SensorStateWrite {
  const parts = new Map<string, Buffer | null>();
  for (const [name, part] of c.parts) parts.set(name, part === null ? null : encodePart(part));
  const appends = new Map<string, Buffer>();
  for (const [name, entries] of c.appends) appends.set(name, packEntries(entries, 0));
  return { main: Buffer.from(JSON.stringify(c.main), 'utf8'), parts, appends };
}

function encodePart(part: SensorPart): Buffer {
  if (part.kind === 'pane') return Buffer.from(JSON.stringify(part.metrics), 'utf8');
  const bytes = packEntries(part.entries, 1);
  bytes[0] = DEDUPE_ENTRIES;
  return bytes;
}

/** A stored copy of a sensor with one checkpoint's write applied (the memory store, in-flight steps). */
export function applySensorWrite(stored: StoredSensor | undefined, w: SensorStateWrite): StoredSensor {
  const parts = new Map(stored?.parts);
  for (const [name, bytes] of w.parts) {
    if (bytes === null) parts.delete(name);
    else parts.set(name, bytes);
  }
  for (const [name, bytes] of w.appends) {
    const old = parts.get(name);
    parts.set(name, old === undefined ? bytes : Buffer.concat([old, bytes]));
  }
  return { main: w.main, parts };
}

function decodePart(name: string, bytes: Buffer): SensorPart {
  if (bytes[0] === DEDUPE_ENTRIES) return { kind: 'dedupe', entries: unpackEntries(bytes, 1) };
  if (bytes[0] === DEDUPE_PAIRS) {
    const pairs = new Array<number>((bytes.length - 1) >> 3);
    for (let i = 0; i < pairs.length; i++) pairs[i] = bytes.readDoubleLE(1 + i * 8);
    return { kind: 'dedupe', entries: upgradeDedupePairs(pairs) };
  }
  try {
    return { kind: 'pane', metrics: JSON.parse(bytes.toString('utf8')) as MetricsSnapshot };
  } catch (err) {
    throw new VigilError(`sensor checkpoint part ${name} is not valid JSON`, {
      code: 'CHECKPOINT_CORRUPT',
      cause: err,
    });
  }
}

/** Restores a sensor from what the store holds, whatever the version it was written with. */
export function restoreSensor(
  sensorId: string,
  pipeline: SensorPipeline,
  stored: StoredSensor,
): SensorProcessor {
  const main = decodeSensorMain(stored.main);
  if (isWholeRecord(main)) return restoreSnapshot(sensorId, pipeline, main);
  const parts = new Map<string, SensorPart>();
  for (const [name, bytes] of stored.parts) parts.set(name, decodePart(name, bytes));
  try {
    return SensorProcessor.fromCheckpoint(sensorId, pipeline, main, parts);
  } catch (err) {
    throw new VigilError(`sensor checkpoint of ${sensorId} is incomplete: ${(err as Error).message}`, {
      code: 'CHECKPOINT_CORRUPT',
      cause: err,
    });
  }
}

export function encodeSensorSnapshot(s: SensorSnapshot): Buffer {
  return Buffer.from(JSON.stringify(s), 'utf8');
}

/** A version 1 or 2 record (whole state), for tests and tools; restoreSensor reads every version. */
export function decodeSensorSnapshot(bytes: Buffer | string): SensorSnapshot {
  const s = decodeSensorMain(bytes);
  if (!isWholeRecord(s))
    throw new VigilError(
      `a version ${s.v} sensor checkpoint is a main record with parts: use restoreSensor`,
      {
        code: 'CHECKPOINT_VERSION',
      },
    );
  return s;
}

/** Versions 1 and 2 held the whole state in one record; later ones a main record and parts. */
const isWholeRecord = (m: SensorSnapshot | SensorMain): m is SensorSnapshot => m.v === 1 || m.v === 2;

function decodeSensorMain(bytes: Buffer | string): SensorSnapshot | SensorMain {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch (err) {
    throw new VigilError('sensor checkpoint is not valid JSON', { code: 'CHECKPOINT_CORRUPT', cause: err });
  }
  const v = (parsed as { v?: unknown } | null)?.v;
  if (!READABLE_VERSIONS.includes(v)) {
    throw new VigilError(
      `sensor checkpoint has format version ${String(v)}; this build reads ${READABLE_VERSIONS.join(', ')}`,
      {
        code: 'CHECKPOINT_VERSION',
      },
    );
  }
  return parsed as SensorSnapshot | SensorMain;
}

/**
 * The partition-level state stored beside the sensor snapshots. Version 2 holds stream time only:
 * the clock's per-sensor entries are written incrementally beside it (StreamClock.takeChanges), so a
 * checkpoint costs the sensors that changed, not every sensor tracked. Version 1 held the whole clock.
 */
export type PartitionState =
  | {
      readonly v: 2;
      readonly st: number | null;
      /** Forwarded readings taken: origin partition -> its highest offset taken (router.ts). */
      readonly fw?: readonly (readonly [number, string])[];
    }
  | { readonly v: 1; readonly clock: StreamClockSnapshot };

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
