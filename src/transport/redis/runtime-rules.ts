import type { Redis } from 'ioredis';
import { connectRedis, type RedisConnection } from './connection.js';
import { parseRule } from '../../config/load.js';
import type { RuleContext } from '../../config/schema/pipeline.js';
import type { Rule } from '../../core/rules/types.js';
import { ConfigError, VigilError } from '../../core/errors.js';
import { describeJsonError } from '../../core/json-error.js';
import type { Logger } from '../../obs/logger.js';

export interface RuleEntry {
  readonly rule: Rule;
  /** The rule as set (the config's rule form), or the parsed rule for a rule from the config file. */
  readonly specJson: string;
}

/**
 * Rules changed at run time, shared by the cluster in Redis:
 *
 *   <prefix>vigil:rules           hash: rule id -> spec JSON, or "" for a rule deleted at run time
 *   <prefix>vigil:rules:version   counter, incremented by every change
 *
 * The rules in force are the config file's rules overridden by id by these entries. Every node polls
 * the version twice a second and swaps its rules when it moves, so a change is in force everywhere
 * within a second. Any node may take a change: no forwarding is needed.
 */
export class RuntimeRules {
  private readonly redis: Redis;
  private timer: NodeJS.Timeout | undefined;
  private seen = -1;

  constructor(
    private readonly o: RedisConnection & {
      readonly keyPrefix: string;
      readonly base: readonly Rule[];
      /** The pipeline's window names and aggregates: a window rule must name them. */
      readonly pipeline: RuleContext;
      readonly pollMs?: number;
    },
    private readonly onChange: (rules: readonly Rule[], version: number) => void,
    private readonly logger: Logger,
  ) {
    this.redis = connectRedis({ ...o, logger }, { maxRetriesPerRequest: 3 });
  }

  private get hashKey(): string {
    return `${this.o.keyPrefix}vigil:rules`;
  }

  private get versionKey(): string {
    return `${this.o.keyPrefix}vigil:rules:version`;
  }

  /** The rules in force and the version they belong to. */
  async current(): Promise<{ version: number; entries: RuleEntry[] }> {
    const [[, version], [, overrides]] = (await this.redis
      .multi()
      .get(this.versionKey)
      .hgetall(this.hashKey)
      .exec()) as [[unknown, string | null], [unknown, Record<string, string>]];
    const entries = new Map<string, RuleEntry>(
      this.o.base.map((rule) => [rule.id, { rule, specJson: JSON.stringify(rule) }]),
    );
    for (const [id, spec] of Object.entries(overrides)) {
      if (spec === '') {
        entries.delete(id);
        continue;
      }
      try {
        entries.set(id, { rule: parseRule(JSON.parse(spec), this.o.pipeline), specJson: spec });
      } catch (err) {
        this.logger.error({ err, ruleId: id }, 'a stored rule no longer parses; ignoring it');
      }
    }
    return {
      version: Number(version ?? 0),
      entries: [...entries.values()].sort((a, b) => a.rule.id.localeCompare(b.rule.id)),
    };
  }

  /** Validates and stores a rule (new or replacing one with the same id); returns it with the new version. */
  async set(specJson: string): Promise<{ rule: Rule; version: number }> {
    let raw: unknown;
    try {
      raw = JSON.parse(specJson);
    } catch (err) {
      throw new ConfigError('spec_json', describeJsonError(specJson), { cause: err });
    }
    const rule = parseRule(raw, this.o.pipeline);
    const result = await this.redis
      .multi()
      .hset(this.hashKey, rule.id, JSON.stringify(raw))
      .incr(this.versionKey)
      .exec();
    return { rule, version: Number(result?.[1]?.[1] ?? 0) };
  }

  /** Deletes a rule in force; undefined when there is none with that id. */
  async delete(id: string): Promise<number | undefined> {
    const { entries } = await this.current();
    if (!entries.some((e) => e.rule.id === id)) return undefined;
    const result = await this.redis.multi().hset(this.hashKey, id, '').incr(this.versionKey).exec();
    return Number(result?.[1]?.[1] ?? 0);
  }

  private async poll(): Promise<void> {
    const version = Number((await this.redis.get(this.versionKey)) ?? 0);
    if (version === this.seen) return;
    const { entries } = await this.current();
    this.seen = version;
    this.onChange(
      entries.map((e) => e.rule),
      version,
    );
  }

  /** Applies the rules in force now, then follows every change. */
  async start(): Promise<void> {
    try {
      await this.poll();
    } catch (err) {
      throw new VigilError(`loading runtime rules: ${(err as Error).message}`, {
        code: 'REDIS_UNAVAILABLE',
        retriable: true,
        cause: err,
      });
    }
    this.timer = setInterval(() => {
      this.poll().catch((err: unknown) => {
        this.logger.warn({ err }, 'polling runtime rules failed');
      });
    }, this.o.pollMs ?? 500);
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.redis.quit();
  }
}
