import { VigilError } from '../errors.js';
import type { TrackedFile } from './tail.js';

/**
 * A log source's checkpoint, as stored under its lease (JSON, `v` is the format version):
 *
 *   files     where reading goes on in each file (identity, name, offset, head, date cursor)
 *   idle      the event time of the source's last line, and whether its idle mark was written
 *   pending   a write to vigil.logs that may or may not have committed: set (with the positions it
 *             would reach) just before the transaction commits, cleared by the checkpoint after it.
 *             A fetcher that finds it on start asks the log whether that write committed, and takes
 *             its positions if it did; so a crash between the commit and the checkpoint neither
 *             loses nor repeats a line.
 */
export interface SourceCheckpoint {
  readonly v: 1;
  readonly files: readonly TrackedFile[];
  readonly idle?: IdleState;
  readonly pending?: PendingWrite;
}

/** Where a source stands for its idle mark (see log-record.ts, IdleMark). */
export interface IdleState {
  /** Event time of the last line written. */
  readonly lastTs: number;
  /** Its idle mark is written (no line since). */
  readonly marked: boolean;
}

/** Where a transactional write's first record landed, and the positions it carried the files to. */
export interface PendingWrite {
  readonly txn: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly files: readonly TrackedFile[];
  readonly idle?: IdleState;
}

export function encodeSourceCheckpoint(c: SourceCheckpoint): Buffer {
  return Buffer.from(JSON.stringify(c), 'utf8');
}

export function decodeSourceCheckpoint(bytes: Buffer | string): SourceCheckpoint {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch (err) {
    throw new VigilError('log source checkpoint is not valid JSON', {
      code: 'CHECKPOINT_CORRUPT',
      cause: err,
    });
  }
  const c = parsed as Partial<SourceCheckpoint> | null;
  if (c?.v !== 1) {
    throw new VigilError(`log source checkpoint has format version ${String(c?.v)}; this build reads 1`, {
      code: 'CHECKPOINT_VERSION',
    });
  }
  if (!Array.isArray(c.files) || !c.files.every(isTrackedFile)) {
    throw new VigilError('log source checkpoint: `files` is not a list of files', {
      code: 'CHECKPOINT_CORRUPT',
    });
  }
  return c as SourceCheckpoint;
}

function isTrackedFile(f: unknown): f is TrackedFile {
  const t = f as Partial<TrackedFile> | null;
  return (
    typeof t?.id === 'string' &&
    typeof t.name === 'string' &&
    typeof t.head === 'string' &&
    Number.isSafeInteger(t.offset) &&
    (t.offset ?? -1) >= 0
  );
}
