import type { Redis } from 'ioredis';
import { connectRedis, type RedisConnection } from './connection.js';
import { partitionForKey } from '../../core/partitioner.js';
import { VigilError } from '../../core/errors.js';
import type { Logger } from '../../obs/logger.js';

/** A live node as other nodes see it. */
export interface Member {
  readonly id: string;
  /** host:port of its gRPC server. */
  readonly address: string;
  /** topic:partition keys Kafka's group gave it. */
  readonly partitions: readonly string[];
  /** Epoch ms at which its lease runs out unless refreshed. */
  readonly expiresAt: number;
}

export interface MembershipOptions extends RedisConnection {
  readonly keyPrefix: string;
  readonly nodeId: string;
  readonly address: string;
  /** Lease time to live; refreshed every third of it. A dead node disappears within this. */
  readonly leaseMs: number;
}

/**
 * Cluster membership in Redis. Kafka's group decides who owns which partition; membership only
 * publishes it with each node's gRPC address, so any node can route a command to a key's owner.
 *
 *   <prefix>vigil:members          sorted set: node id, scored by lease expiry (epoch ms)
 *   <prefix>vigil:member:<id>      JSON of the Member, with the same expiry (PEXPIRE)
 *
 * A node whose lease expired is not a member, whatever keys are left over.
 */
export class Membership {
  private readonly redis: Redis;
  private partitions: readonly string[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly o: MembershipOptions,
    private readonly logger: Logger,
  ) {
    this.redis = connectRedis({ ...o, logger }, { maxRetriesPerRequest: 3 });
  }

  private get setKey(): string {
    return `${this.o.keyPrefix}vigil:members`;
  }

  private memberKey(id: string): string {
    return `${this.o.keyPrefix}vigil:member:${id}`;
  }

  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(
      () => {
        this.refresh().catch((err: unknown) => {
          this.logger.warn({ err }, 'refreshing the membership lease failed');
        });
      },
      Math.max(100, Math.floor(this.o.leaseMs / 3)),
    );
  }

  /** Publishes this node's partitions now (called after every assignment). */
  async setPartitions(partitions: readonly string[]): Promise<void> {
    this.partitions = [...partitions].sort();
    await this.refresh();
  }

  private async refresh(): Promise<void> {
    const expiresAt = Date.now() + this.o.leaseMs;
    const member: Member = {
      id: this.o.nodeId,
      address: this.o.address,
      partitions: this.partitions,
      expiresAt,
    };
    try {
      await this.redis
        .multi()
        .set(this.memberKey(this.o.nodeId), JSON.stringify(member), 'PX', this.o.leaseMs)
        .zadd(this.setKey, expiresAt, this.o.nodeId)
        .zremrangebyscore(this.setKey, '-inf', Date.now())
        .exec();
    } catch (err) {
      throw new VigilError(`membership lease of ${this.o.nodeId}: ${(err as Error).message}`, {
        code: 'REDIS_UNAVAILABLE',
        retriable: true,
        cause: err,
      });
    }
  }

  /** The live members, by id. */
  async members(): Promise<Member[]> {
    const ids = await this.redis.zrangebyscore(this.setKey, Date.now(), '+inf');
    if (ids.length === 0) return [];
    const values = await this.redis.mget(ids.map((id) => this.memberKey(id)));
    return values
      .flatMap((v) => (v === null ? [] : [JSON.parse(v) as Member]))
      .filter((m) => m.expiresAt > Date.now())
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  /** The live member that owns `sensorId`'s partition of `topic` (Kafka's murmur2 placement). */
  async ownerOf(sensorId: string, topic: string, partitions: number): Promise<Member | undefined> {
    const key = `${topic}:${partitionForKey(sensorId, partitions)}`;
    return (await this.members()).find((m) => m.partitions.includes(key));
  }

  /** Leaves at once (drain / shutdown): the lease is deleted rather than left to expire. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    try {
      await this.redis.multi().del(this.memberKey(this.o.nodeId)).zrem(this.setKey, this.o.nodeId).exec();
    } finally {
      await this.redis.quit();
    }
  }
}
