import { seqCode, unpackEntries, type DedupeSnapshot, type Deduplicator } from './dedupe.js';
import {
  SensorProcessor,
  type SensorMain,
  type SensorPart,
  type SensorPipeline,
  type SensorSnapshot,
} from './sensor.js';
import type { StreamClock, StreamClockSnapshot } from './stream-clock.js';
import { paneGroups, type PaneSnapshot } from './windows.js';
import type { SessionSnapshot } from './session-windows.js';

/**
 * Checkpoints written by earlier versions, upgraded to today's forms here and nowhere else:
 *
 *   sensor, versions 1 and 2   one JSON record holding the whole state, each window with panes of its
 *                              own (1: the dedupe index as JSON pairs; 2: packed) -> a main record
 *                              and parts, with the windows of one pane length sharing panes
 *   dedupe index, versions 1-3 key/ts pairs (a seq's key held no event time) -> entries of (ts, values
 *                              hash, seq code): see upgradeDedupePairs
 *   partition state, version 1 the whole stream clock -> version 2, stream time and one entry per
 *                              sensor
 *
 * An upgraded state restores exactly as it was, except that none of it is in the store in today's
 * form yet, so the next checkpoint writes it whole (and from then on only what changes).
 */

/** Restores a sensor from a version 1 or 2 record. */
export function restoreSnapshot(
  sensorId: string,
  pipeline: SensorPipeline,
  s: SensorSnapshot,
): SensorProcessor {
  const { main, parts } = upgradeSensorSnapshot(s, pipeline);
  return SensorProcessor.fromCheckpoint(sensorId, pipeline, main, parts, false);
}

/** A version 1 or 2 sensor record as a version 3 main record and its parts. */
export function upgradeSensorSnapshot(
  s: SensorSnapshot,
  pipeline: SensorPipeline,
): { main: SensorMain; parts: Map<string, SensorPart> } {
  const parts = new Map<string, SensorPart>();
  const byName = new Map(s.windows);
  // Views of one pane length held the same panes: the group keeps the first view's copy of each.
  const panes: [number, number[]][] = paneGroups(pipeline.windows, pipeline.window).map((g) => {
    const starts: number[] = [];
    for (const spec of g.specs) {
      const view = byName.get(spec.name);
      if (view === undefined || !('panes' in view)) continue;
      for (const [start, metrics] of view.panes) {
        const name = `p:${g.paneMs}:${start}`;
        if (parts.has(name)) continue;
        parts.set(name, { kind: 'pane', metrics });
        starts.push(start);
      }
    }
    return [g.paneMs, starts.sort((a, b) => a - b)];
  });
  const windows = s.windows.map(
    ([name, w]): readonly [string, { readonly next: number | null } | SessionSnapshot] =>
      'panes' in w ? [name, { next: w.next }] : [name, w],
  );
  // The whole dedupe index as one segment of length 0, a length no build cuts: restoring it recuts
  // the index into today's segments and writes them all at the next checkpoint.
  parts.set('d:0', { kind: 'dedupe', entries: snapshotEntries(s.dedupe) });
  const main: SensorMain = {
    v: 3,
    maxTs: s.maxTs,
    idleWm: s.idleWm,
    dedupe: { max: s.dedupe.max, seg: 0, segs: [0] },
    windows,
    panes,
    rollup: s.rollup === null ? null : upgradeRollup(s.rollup, parts),
    rules: s.rules,
    ...(s.held === undefined ? {} : { held: s.held }),
  };
  return { main, parts };
}

function upgradeRollup(
  r: PaneSnapshot,
  parts: Map<string, SensorPart>,
): { readonly next: number | null; readonly panes: readonly number[] } {
  for (const [start, metrics] of r.panes) parts.set(`r:${start}`, { kind: 'pane', metrics: metrics });
  return { next: r.next, panes: r.panes.map(([start]) => start) };
}

/** Restores a dedupe index from its whole form (a whole-record checkpoint); the next checkpoint writes it all. */
export function restoreLegacyDedupe(d: Deduplicator, s: DedupeSnapshot): Deduplicator {
  return d.restoreSegments({ max: s.max, seg: 0, segs: [0] }, new Map([[0, snapshotEntries(s)]]));
}

/** The entries of a whole index: today's packed entries, or version 1 (JSON pairs) and 2 (packed pairs). */
function snapshotEntries(d: DedupeSnapshot): number[] {
  if ('entries' in d) return unpackEntries(Buffer.from(d.entries, 'base64'), 0);
  if ('seen' in d) return upgradeDedupePairs(d.seen.flatMap(([key, ts]) => [key, ts]));
  const keys = Buffer.from(d.keys, 'base64');
  const times = Buffer.from(d.times, 'base64');
  const pairs: number[] = [];
  for (let i = 0; i + 8 <= keys.length; i += 8) pairs.push(keys.readDoubleLE(i), times.readDoubleLE(i));
  return upgradeDedupePairs(pairs);
}

/**
 * Key/ts pairs of dedupe indexes before version 4 as today's entries. A key was either a reading's
 * 53-bit fingerprint of time and values (>= 0), whose values hash today is the same number modulo
 * 2^32 - 1, plus 1 (dedupe.ts valuesHash), or a sequence number n as -(n + 1), held with the time of
 * the reading that had it. Each becomes an entry that matches what it matched before at that time.
 */
export function upgradeDedupePairs(pairs: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const key = pairs[i] as number;
    const ts = pairs[i + 1] as number;
    if (key >= 0) out.push(ts, (key % 0xffffffff) + 1, 0);
    else out.push(ts, 0, seqCode(-key - 1));
  }
  return out;
}

/** Queues of a version 1 clock: per silence threshold, or (older still) one queue for all of them. */
type LegacyQueue = readonly (readonly [string, number])[];
type SilenceQueues = readonly (readonly [number, LegacyQueue])[];

const isSingleQueue = (q: StreamClockSnapshot['silence']): q is LegacyQueue =>
  q.length > 0 && typeof (q[0] as readonly unknown[])[0] === 'string';

/**
 * Restores a clock from a version 1 partition state (the whole clock). A single silence queue (before
 * thresholds had queues of their own) goes to the shortest threshold in force.
 */
export function restoreLegacyClock(
  clock: StreamClock,
  s: StreamClockSnapshot,
  thresholds: readonly number[],
): StreamClock {
  const queues: SilenceQueues = isSingleQueue(s.silence)
    ? thresholds.length === 0
      ? []
      : [[Math.min(...thresholds), s.silence]]
    : s.silence;
  const seen = new Map<string, number>();
  const memberships = new Map<string, string[]>();
  const join = (id: string, lastSeen: number, queue: string): void => {
    seen.set(id, lastSeen);
    memberships.set(id, [...(memberships.get(id) ?? []), queue]);
  };
  for (const [id, lastSeen] of s.idle) join(id, lastSeen, 'i');
  for (const [afterMs, entries] of queues)
    for (const [id, lastSeen] of entries) join(id, lastSeen, `s${afterMs}`);
  const entries = new Map<string, string>();
  for (const [id, queuesOf] of memberships) entries.set(id, [String(seen.get(id)), ...queuesOf].join('|'));
  return clock.restoreEntries(s.st, entries, false);
}
