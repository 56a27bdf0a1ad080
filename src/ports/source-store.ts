import { randomBytes } from 'node:crypto';
import { VigilError } from '../core/errors.js';

/** A log source held by one owner until its lease runs out; the token fences every write. */
export interface SourceLease {
  readonly source: string;
  /** `<owner>/<random>`: unique per acquisition, so a lease that lapsed and was retaken is not ours. */
  readonly token: string;
}

/**
 * Leases and checkpoints of log sources. Exactly one node fetches a source: the holder of its lease.
 * A checkpoint is written only under the lease, so a paused node that lost its lease cannot overwrite
 * the position of the node that took the source over (the checkpoint's fencing, like a partition's
 * epoch). Implementations: MemorySourceStore (embedded mode, tests) and RedisSourceStore; both pass
 * test/contract/source-store.contract.ts.
 */
export interface SourceStore {
  /** Takes the source when nobody holds it; undefined when somebody does. */
  acquire(source: string, owner: string, ttlMs: number): Promise<SourceLease | undefined>;
  /** Extends the lease; false when it is no longer ours (it lapsed, and maybe was taken). */
  renew(lease: SourceLease, ttlMs: number): Promise<boolean>;
  /** Gives the source up (drain): another node may take it at once. */
  release(lease: SourceLease): Promise<void>;
  /** The node holding the source now, if any. */
  owner(source: string): Promise<string | undefined>;
  /** The source's last checkpoint (encoded, see core/logs/checkpoint.ts). */
  load(source: string): Promise<Buffer | undefined>;
  /** Writes the checkpoint if `lease` is still the source's lease; else LeaseLostError. */
  save(lease: SourceLease, checkpoint: Buffer): Promise<void>;
  close(): Promise<void>;
}

/** A write under a lease that is no longer held. Never retriable: the source belongs to another node. */
export class LeaseLostError extends VigilError {
  constructor(readonly source: string) {
    super(`the lease of log source ${source} is no longer held by this node`, {
      code: 'LEASE_LOST',
      retriable: false,
    });
  }
}

export function newLeaseToken(owner: string): string {
  return `${owner}/${randomBytes(6).toString('hex')}`;
}

export const ownerOfToken = (token: string): string => token.slice(0, token.lastIndexOf('/'));
