import {
  LeaseLostError,
  newLeaseToken,
  ownerOfToken,
  type SourceLease,
  type SourceStore,
} from './source-store.js';

/** Leases and checkpoints in this process (embedded mode, tests); leases expire by the wall clock. */
export class MemorySourceStore implements SourceStore {
  private readonly leases = new Map<string, { token: string; expiresAt: number }>();
  private readonly checkpoints = new Map<string, Buffer>();

  private holder(source: string): string | undefined {
    const lease = this.leases.get(source);
    if (lease === undefined || lease.expiresAt <= Date.now()) return undefined;
    return lease.token;
  }

  acquire(source: string, owner: string, ttlMs: number): Promise<SourceLease | undefined> {
    if (this.holder(source) !== undefined) return Promise.resolve(undefined);
    const token = newLeaseToken(owner);
    this.leases.set(source, { token, expiresAt: Date.now() + ttlMs });
    return Promise.resolve({ source, token });
  }

  renew(lease: SourceLease, ttlMs: number): Promise<boolean> {
    if (this.holder(lease.source) !== lease.token) return Promise.resolve(false);
    this.leases.set(lease.source, { token: lease.token, expiresAt: Date.now() + ttlMs });
    return Promise.resolve(true);
  }

  release(lease: SourceLease): Promise<void> {
    if (this.holder(lease.source) === lease.token) this.leases.delete(lease.source);
    return Promise.resolve();
  }

  owner(source: string): Promise<string | undefined> {
    const token = this.holder(source);
    return Promise.resolve(token === undefined ? undefined : ownerOfToken(token));
  }

  load(source: string): Promise<Buffer | undefined> {
    return Promise.resolve(this.checkpoints.get(source));
  }

  save(lease: SourceLease, checkpoint: Buffer): Promise<void> {
    if (this.holder(lease.source) !== lease.token) return Promise.reject(new LeaseLostError(lease.source));
    this.checkpoints.set(lease.source, Buffer.from(checkpoint));
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
