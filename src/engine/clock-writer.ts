import { partitionForKey } from '../core/partitioner.js';
import { CLOCK_CONTROL, CONTROL_HEADER, EXPECT_CONTROL } from '../core/router.js';
import type { Logger } from '../obs/logger.js';
import type { OutgoingRecord, RecordProducer } from '../ports/record-log.js';
import type { SourceLease, SourceStore } from '../ports/source-store.js';

export interface ClockWriterOptions {
  /** vigil.readings, and its partition count. */
  readonly topic: string;
  readonly partitions: number;
  /** readings.clock.interval: how often a clock record goes to every partition. */
  readonly intervalMs: number;
  /** This node: the lease's owner. */
  readonly owner: string;
  /** readings.expected: declared by the node that takes the lease. */
  readonly expected: readonly string[];
  readonly leases: SourceStore;
  readonly producer: RecordProducer;
  readonly logger: Logger;
}

/** The lease the clock writer holds (a name no log source can have: ids start with a letter or digit). */
export const CLOCK_LEASE = '#clock';

/**
 * Clock records: stream time moves with the records of a partition, so while nothing arrives it would
 * stand still, and a network gone quiet would never be reported silent (docs/decisions/0002). One node
 * at a time, the holder of a lease, appends a clock record (control header `clock`) to every readings
 * partition every `intervalMs` of wall clock; the router moves stream time to its broker time at that
 * record (core/stream-clock.ts advance). Being records of the log, they give a replay the same ticks
 * at the same places, so exactly-once holds. Two writers for a moment (a lease lapsing) only write
 * clock records twice: stream time takes the larger.
 *
 * On taking the lease, the writer also declares the configured expected sensors (an `expect` record
 * each, to its sensor's partition): declaring one again changes nothing (StreamClock.expect).
 *
 * States: waiting (each tick tries to take the lease) -> writing (each tick renews it, then writes)
 * -> waiting again when a renewal finds the lease lost. stop() releases it, so another node writes on
 * without waiting for it to lapse.
 */
export class ClockWriter {
  private lease: SourceLease | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> = Promise.resolve();
  private readonly keys: string[];
  /** Clock records written (for tests and status). */
  written = 0;

  constructor(private readonly o: ClockWriterOptions) {
    this.keys = clockKeys(o.partitions);
  }

  start(): void {
    if (this.o.intervalMs <= 0) return;
    const tick = (): void => {
      this.ticking = this.ticking.then(() => this.tick());
    };
    tick();
    this.timer = setInterval(tick, this.o.intervalMs);
  }

  /** One tick: hold the lease (take or renew it), and if held, write a clock record to every partition. */
  async tick(): Promise<void> {
    const { leases, owner, logger } = this.o;
    const ttl = 3 * this.o.intervalMs;
    try {
      if (this.lease !== undefined && !(await leases.renew(this.lease, ttl))) {
        logger.info('clock records: the lease is held by another node now');
        this.lease = undefined;
      }
      if (this.lease === undefined) {
        this.lease = await leases.acquire(CLOCK_LEASE, owner, ttl);
        if (this.lease === undefined) return;
        logger.info({ intervalMs: this.o.intervalMs }, 'clock records: this node writes them');
        if (this.o.expected.length > 0) await this.expect(this.o.expected);
      }
      const at = Date.now();
      const messages: OutgoingRecord[] = this.keys.map((key) => ({
        key,
        value: JSON.stringify({ at, by: owner }),
        headers: { [CONTROL_HEADER]: CLOCK_CONTROL },
      }));
      await this.o.producer.send([{ topic: this.o.topic, messages }]);
      this.written += messages.length;
    } catch (err) {
      // The next tick tries again; stream time waits for it (a late clock record is no gap).
      logger.warn({ err }, 'clock records: a tick failed');
    }
  }

  /** Declares sensors expected to report: each is watched by the silence rules from its record on. */
  async expect(sensorIds: readonly string[]): Promise<void> {
    const messages: OutgoingRecord[] = sensorIds.map((id) => ({
      key: id,
      value: '',
      headers: { [CONTROL_HEADER]: EXPECT_CONTROL },
    }));
    await this.o.producer.send([{ topic: this.o.topic, messages }]);
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.ticking;
    const lease = this.lease;
    this.lease = undefined;
    if (lease !== undefined) await this.o.leases.release(lease).catch(() => undefined);
  }
}

/**
 * One key per partition that the default partitioner (murmur2) sends to it: the producer port places
 * records by key, so these put a clock record on every partition.
 */
export function clockKeys(partitions: number): string[] {
  const keys = new Array<string | undefined>(partitions).fill(undefined);
  let found = 0;
  for (let i = 0; found < partitions; i++) {
    const key = `${CLOCK_LEASE}-${i}`;
    const p = partitionForKey(key, partitions);
    if (keys[p] === undefined) {
      keys[p] = key;
      found += 1;
    }
  }
  return keys as string[];
}
