import { Partitioners, type Consumer, type EachBatchPayload, type Kafka, type Producer } from 'kafkajs';
import { decodeReading, type Reading } from '../core/reading.js';
import { newOutputBuffer, type DeadLetter } from '../core/outputs.js';
import type { VigilConfig } from '../config/load.js';
import { TOPIC_NAMES } from '../config/load.js';
import type { Logger } from '../log.js';
import { spawnPartition, type PartitionMsg } from '../actors/ingest.js';
import { Latch } from '../actors/latch.js';
import { startSystem, stopActor, tell, type ActorSystem, type Ref } from '../actors/nact.js';
import { createKafka } from '../transport/kafka/client.js';
import { ensureTopics } from '../transport/kafka/topics.js';
import { KafkaOutputSink } from '../transport/kafka/output-sink.js';

/** Sensors per partition are spread over this many bucket actors. */
const BUCKETS_PER_PARTITION = 64;

/**
 * A running Vigil node: a kafkajs consumer in the group feeding the nact ingest hierarchy, and a
 * producer shipping each batch's outputs before the batch's offsets are committed (at-least-once; the
 * outputs' deterministic ids let sinks drop replayed duplicates).
 *
 * Life cycle:  new -> start() -> running -> stop() -> stopped.  stop() disconnects the consumer first
 * (which waits for the batch in hand to finish), then the producer, then the actor system.
 */
export class VigilNode {
  private readonly kafka: Kafka;
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly sink: KafkaOutputSink;
  private system: ActorSystem | undefined;
  private readonly partitions = new Map<string, Ref<PartitionMsg>>();
  private stopped = false;
  /** Counters for status output and tests. */
  readonly stats = { records: 0, deadLetters: 0, windowResults: 0, alerts: 0, late: 0, batches: 0 };

  constructor(
    readonly config: VigilConfig,
    private readonly logger: Logger,
  ) {
    this.kafka = createKafka(config.kafka, logger);
    this.consumer = this.kafka.consumer({
      groupId: config.kafka.groupId,
      sessionTimeout: config.kafka.sessionTimeoutMs,
      heartbeatInterval: Math.max(100, Math.floor(config.kafka.sessionTimeoutMs / 5)),
      maxBytesPerPartition: 1024 * 1024,
    });
    this.producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      // The idempotent producer keeps retrying while the broker is away: nothing can be processed
      // then anyway, and giving up would only replay the batch.
      retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 5_000 },
    });
    this.sink = new KafkaOutputSink(this.producer, config.kafka.topics);
  }

  get nodeId(): string {
    return this.config.nodeId;
  }

  async start(): Promise<void> {
    const { topics, partitions } = this.config.kafka;
    await ensureTopics(
      this.kafka,
      TOPIC_NAMES.map((role) => ({ topic: topics[role], numPartitions: partitions[role] })),
      this.logger,
    );
    this.system = startSystem();
    await this.producer.connect();
    await this.consumer.connect();
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
      this.onAssignment(payload.memberAssignment);
    });
    await this.consumer.subscribe({ topic: topics.readings, fromBeginning: true });
    await this.consumer.run({
      eachBatchAutoResolve: false,
      autoCommit: true,
      partitionsConsumedConcurrently: 3,
      eachBatch: (payload) => this.handleBatch(payload),
    });
    this.logger.info(
      { nodeId: this.nodeId, topic: topics.readings, group: this.config.kafka.groupId },
      'node started',
    );
  }

  /** Drops the actors of partitions this node no longer owns after a rebalance. */
  private onAssignment(assignment: Record<string, number[]>): void {
    const owned = new Set<string>();
    for (const [topic, parts] of Object.entries(assignment))
      for (const p of parts) owned.add(`${topic}-${p}`);
    for (const [key, ref] of this.partitions) {
      if (!owned.has(key)) {
        stopActor(ref);
        this.partitions.delete(key);
      }
    }
    this.logger.info({ partitions: [...owned].sort() }, 'partitions assigned');
  }

  private partitionActor(topic: string, partition: number): Ref<PartitionMsg> {
    const key = `${topic}-${partition}`;
    let ref = this.partitions.get(key);
    if (ref === undefined) {
      if (this.system === undefined) throw new Error('node is not started');
      ref = spawnPartition(this.system, `partition-${key}`, {
        pipeline: this.config.pipeline,
        logger: this.logger.child({ partition: key }),
        bucketCount: BUCKETS_PER_PARTITION,
      });
      this.partitions.set(key, ref);
    }
    return ref;
  }

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (!payload.isRunning() || payload.isStale() || batch.messages.length === 0) return;
    const { topic, partition } = batch;
    const groups = new Map<string, Reading[]>();
    const deadLetters: DeadLetter[] = [];
    const offsets = new Map<Reading, string>();
    for (const message of batch.messages) {
      const decoded = decodeReading(message.value);
      if (decoded.ok) {
        const reading = decoded.value;
        offsets.set(reading, message.offset);
        const group = groups.get(reading.sensorId);
        if (group === undefined) groups.set(reading.sensorId, [reading]);
        else group.push(reading);
      } else {
        deadLetters.push({
          source: { topic, partition, offset: message.offset },
          key: message.key,
          payload: message.value,
          reason: decoded.reason,
        });
      }
    }
    const out = newOutputBuffer();
    if (groups.size > 0) {
      const latch = new Latch(groups.size);
      tell(this.partitionActor(topic, partition), {
        groups,
        batch: {
          out,
          deadLetters,
          latch,
          sourceOf: (r) => ({ topic, partition, offset: offsets.get(r) ?? batch.lastOffset() }),
        },
      });
      await latch.promise;
    }
    await this.sink.send(out, deadLetters);
    payload.resolveOffset(batch.lastOffset());
    await payload.commitOffsetsIfNecessary();
    await payload.heartbeat();
    const s = this.stats;
    s.batches += 1;
    s.records += batch.messages.length;
    s.deadLetters += deadLetters.length;
    s.windowResults += out.windowResults.length;
    s.alerts += out.alerts.length;
    s.late += out.late.length;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.consumer.disconnect();
    await this.producer.disconnect();
    if (this.system !== undefined) stopActor(this.system);
    this.partitions.clear();
    this.logger.info({ stats: this.stats }, 'node stopped');
  }
}
