import type { Redis } from 'ioredis';
import { VigilError } from '../../core/errors.js';
import { connectRedis, type RedisConnection } from './connection.js';
import {
  LeaseLostError,
  newLeaseToken,
  ownerOfToken,
  type SourceLease,
  type SourceStore,
} from '../../ports/source-store.js';

/** KEYS: lease. ARGV: token, ttl ms. Extends the lease only if it is still this token's. */
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`;

/** KEYS: lease. ARGV: token. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

/** KEYS: lease, checkpoint. ARGV: token, checkpoint. The write is fenced by the lease. */
const SAVE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('LEASE_LOST the lease is held by another token')
end
redis.call('SET', KEYS[2], ARGV[2])
return 'OK'
`;

/** The scripts above, as ioredis defines them on the client. */
interface SourceCommands {
  vigilLeaseRenew(lease: string, token: string, ttlMs: number): Promise<number>;
  vigilLeaseRelease(lease: string, token: string): Promise<number>;
  vigilSourceSave(lease: string, cp: string, token: string, checkpoint: Buffer): Promise<string>;
}

export interface RedisSourceStoreOptions extends RedisConnection {
  readonly keyPrefix: string;
}

/**
 * Log source leases and checkpoints in Redis:
 *   <prefix>vigil:src:{<source>}:lease   the holder's token, with the lease's expiry (PX)
 *   <prefix>vigil:src:{<source>}:cp      the checkpoint (JSON, see core/logs/checkpoint.ts)
 * Renew, release and save compare the token in Lua, so only the holder's calls take effect.
 */
export class RedisSourceStore implements SourceStore {
  private readonly redis: Redis;
  private readonly commands: SourceCommands;

  constructor(private readonly o: RedisSourceStoreOptions) {
    this.redis = connectRedis(o, { maxRetriesPerRequest: 3 });
    this.redis.defineCommand('vigilLeaseRenew', { numberOfKeys: 1, lua: RENEW });
    this.redis.defineCommand('vigilLeaseRelease', { numberOfKeys: 1, lua: RELEASE });
    this.redis.defineCommand('vigilSourceSave', { numberOfKeys: 2, lua: SAVE });
    this.commands = this.redis as unknown as SourceCommands;
  }

  private key(source: string, what: 'lease' | 'cp'): string {
    return `${this.o.keyPrefix}vigil:src:{${source}}:${what}`;
  }

  async acquire(source: string, owner: string, ttlMs: number): Promise<SourceLease | undefined> {
    const token = newLeaseToken(owner);
    const ok = await this.redis.set(this.key(source, 'lease'), token, 'PX', ttlMs, 'NX');
    return ok === 'OK' ? { source, token } : undefined;
  }

  async renew(lease: SourceLease, ttlMs: number): Promise<boolean> {
    return (await this.commands.vigilLeaseRenew(this.key(lease.source, 'lease'), lease.token, ttlMs)) === 1;
  }

  async release(lease: SourceLease): Promise<void> {
    await this.commands.vigilLeaseRelease(this.key(lease.source, 'lease'), lease.token);
  }

  async owner(source: string): Promise<string | undefined> {
    const token = await this.redis.get(this.key(source, 'lease'));
    return token === null ? undefined : ownerOfToken(token);
  }

  async load(source: string): Promise<Buffer | undefined> {
    return (await this.redis.getBuffer(this.key(source, 'cp'))) ?? undefined;
  }

  async save(lease: SourceLease, checkpoint: Buffer): Promise<void> {
    try {
      await this.commands.vigilSourceSave(
        this.key(lease.source, 'lease'),
        this.key(lease.source, 'cp'),
        lease.token,
        checkpoint,
      );
    } catch (err) {
      if (err instanceof Error && err.message.includes('LEASE_LOST')) throw new LeaseLostError(lease.source);
      throw new VigilError(`saving the checkpoint of log source ${lease.source}: ${(err as Error).message}`, {
        code: 'REDIS_UNAVAILABLE',
        retriable: true,
        cause: err,
      });
    }
  }

  async close(): Promise<void> {
    await this.redis.quit();
  }
}
