import { logsDecoder } from '../core/log-record.js';
import { partitionForKey } from '../core/partitioner.js';
import { readingsDecoder, type RecordDecoder } from '../core/router.js';
import type { SensorPipeline, SensorSnapshot } from '../core/sensor.js';
import { silenceThresholds } from '../core/rules/evaluate.js';
import type { Rule } from '../core/rules/types.js';
import { NotOwnedError } from '../core/errors.js';
import type { VigilConfig } from '../config/load.js';
import type { SensorCommand } from '../core/sensor.js';
import { startSystem, stopActor, type ActorSystem } from '../actors/nact.js';
import type { BatchControl, ConsumedBatch, RecordConsumer, RecordProducer } from '../ports/record-log.js';
import type { Logger } from '../obs/logger.js';
import { MemorySourceStore } from '../ports/memory-source-store.js';
import type { SourceStore } from '../ports/source-store.js';
import { partitionKey, type PartitionRef, type StateStore } from '../ports/state-store.js';
import type { NodeMetrics } from '../obs/metrics.js';
import { ClockWriter } from './clock-writer.js';
import { FrequencyCounter } from './frequencies.js';
import { OutputWriter } from './output-writer.js';
import { PartitionWorker } from './partition-worker.js';
import { newStats, type EngineStats } from './stats.js';

export interface EngineDeps {
  /** Called with every new assignment (membership publishes it). */
  readonly onAssignment?: (partitions: readonly string[]) => void;
  /** Called once if the engine cannot go on (its consumer failed for good); the engine has aborted. */
  readonly onFatal?: (error: Error) => void;
  readonly config: VigilConfig;
  readonly logger: Logger;
  readonly consumer: RecordConsumer;
  readonly producer: RecordProducer;
  readonly store: StateStore;
  /** Where the clock writer's lease is held (Redis in a cluster); none: this process alone writes them. */
  readonly leases?: SourceStore;
  /** Prometheus metrics of the node, when it serves them. */
  readonly metrics?: NodeMetrics;
}

/** The pipeline every sensor of a stream reads; `rules` is swapped in place by setRules (SensorRules). */
type LivePipeline = { -readonly [K in keyof SensorPipeline]: SensorPipeline[K] };

/**
 * A stream the engine processes: vigil.readings (sensor readings) or vigil.logs (log lines, each a
 * reading of its source with one count of its level). Each has its own pipeline and decoder; both
 * share the engine's consumer group, actors, checkpoints and backpressure.
 */
interface Stream {
  readonly topic: string;
  readonly pipeline: LivePipeline;
  readonly decode: RecordDecoder;
  /** Readings: clock records move stream time, and a long gap restarts silence timers. */
  readonly clockGapMs?: number | undefined;
  /** Logs: a record on the wrong partition is forwarded as it is (core/router.ts). */
  readonly forwardVerbatim: boolean;
  /** The topic's partition count (a sensor's own partition is computed from it). */
  readonly partitions: number;
  /** The silence thresholds of the rules in force; partition clocks follow them. */
  silence: readonly number[];
}

/**
 * The processing engine of one node, over any log and state store (Kafka + Redis in a cluster, the
 * in-memory pair in embedded mode): one PartitionWorker per partition the group gives this node, of
 * vigil.readings and (unless `logs.enabled` is false) vigil.logs.
 *
 * Backpressure: records handed to the actors and not yet done are counted; above
 * `engine.maxInFlight` every owned partition is paused, and resumed below half of it, so a producer
 * faster than the engine fills Kafka, not this process's memory.
 *
 * Life cycle: new -> start() -> running -> stop() (drain: final checkpoints, then leave the group).
 */
export class Engine {
  readonly stats: EngineStats = newStats();
  private readonly system: ActorSystem = startSystem();
  private readonly workers = new Map<string, PartitionWorker>();
  private readonly outputs: OutputWriter;
  /** topic -> its stream; the readings stream is the one runtime rules and sensor commands address. */
  private readonly streams = new Map<string, Stream>();
  private readonly readings: Stream;
  private owned: readonly PartitionRef[] = [];
  /** An assignment came from the group (possibly empty: more nodes than partitions). */
  private assigned = false;
  private readonly frequencies: FrequencyCounter;
  /** Clock records and expected sensors on vigil.readings (clock-writer.ts). */
  private readonly clockWriter: ClockWriter;
  private paused = false;
  private timer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly deps: EngineDeps) {
    const { config } = deps;
    const stream = (
      topic: string,
      partitions: number,
      pipeline: SensorPipeline,
      decode: RecordDecoder,
      extra: Pick<Stream, 'clockGapMs' | 'forwardVerbatim'>,
    ): Stream => {
      const s: Stream = {
        topic,
        partitions,
        pipeline: { ...pipeline },
        decode,
        silence: silenceThresholds(pipeline.rules),
        ...extra,
      };
      this.streams.set(topic, s);
      return s;
    };
    const { topics, partitions } = config.kafka;
    this.readings = stream(
      topics.readings,
      partitions.readings,
      config.pipeline,
      readingsDecoder(config.readings.payload),
      { clockGapMs: config.readings.clock.gapMs, forwardVerbatim: false },
    );
    if (config.logs.enabled)
      stream(topics.logs, partitions.logs, config.logs.pipeline, logsDecoder(config.limits.reading), {
        forwardVerbatim: true,
      });
    this.outputs = new OutputWriter(
      deps.producer,
      config.kafka.topics,
      config.outputs,
      config.limits.deadLetterPayloadBytes,
      deps.metrics,
    );
    this.frequencies = new FrequencyCounter(deps.store, deps.logger);
    this.clockWriter = new ClockWriter({
      topic: topics.readings,
      partitions: partitions.readings,
      intervalMs: config.readings.clock.intervalMs,
      owner: config.nodeId,
      expected: config.readings.expected,
      leases: deps.leases ?? new MemorySourceStore(),
      producer: deps.producer,
      logger: deps.logger,
    });
  }

  get nodeId(): string {
    return this.deps.config.nodeId;
  }

  get partitions(): {
    partition: string;
    state: string;
    epoch: number;
    offset: string | undefined;
    lastCheckpointAt: number;
    lag: number | undefined;
    streamTime: number | undefined;
  }[] {
    return [...this.workers.values()].map((w) => ({ partition: w.key, ...w.status }));
  }

  /**
   * Why the engine is not ready to work (a readiness probe), or undefined when it is: it has joined
   * its consumer group and restored every partition it was given, and it is not draining.
   */
  get notReady(): string | undefined {
    if (this.stopping !== undefined) return 'draining';
    if (!this.assigned) return 'not in the consumer group yet';
    const waiting = [...this.workers.values()].filter((w) => w.status.state !== 'open').map((w) => w.key);
    if (waiting.length > 0)
      return `partitions not restored yet: ${waiting.slice(0, 6).join(', ')}${waiting.length > 6 ? ', …' : ''}`;
    return undefined;
  }

  /** Actors of the engine: every open partition's partition, bucket and sensor actors. */
  get actorCount(): number {
    let n = 0;
    for (const w of this.workers.values()) n += w.actors;
    return n;
  }

  async start(): Promise<void> {
    const { config, logger } = this.deps;
    const topics = [...this.streams.keys()];
    await this.deps.consumer.start(topics, {
      onBatch: (batch, control) => this.onBatch(batch, control),
      onAssignment: (partitions) => {
        this.onAssignment(partitions);
      },
      onFatal: (error) => {
        logger.fatal(
          { err: error },
          'the consumer failed for good; stopping the engine without a checkpoint',
        );
        void this.abort().finally(() => this.deps.onFatal?.(error));
      },
    });
    const interval = Math.max(50, Math.floor(config.checkpoint.intervalMs / 2));
    this.timer = setInterval(() => {
      for (const w of this.workers.values()) {
        w.checkpointIfDue().catch((err: unknown) => {
          logger.error({ err, partition: w.key }, 'timed checkpoint failed');
        });
      }
    }, interval);
    this.frequencies.start();
    this.clockWriter.start();
    logger.info({ topics }, 'engine started');
  }

  private worker(ref: PartitionRef): PartitionWorker {
    const key = partitionKey(ref);
    let w = this.workers.get(key);
    if (w === undefined) {
      const { config, logger, store, consumer } = this.deps;
      const stream = this.streams.get(ref.topic) ?? this.readings;
      w = new PartitionWorker(ref, {
        pipeline: stream.pipeline,
        decode: stream.decode,
        partitions: stream.partitions,
        maxFutureMs: config.limits.maxFutureMs,
        clockGapMs: stream.clockGapMs,
        forwardVerbatim: stream.forwardVerbatim,
        maxSensorsPerStep: config.limits.maxSensorsPerStep,
        maxDirtySensors: config.limits.maxDirtySensors,
        silenceThresholds: () => stream.silence,
        frequencies: this.frequencies,
        buckets: config.engine.buckets,
        checkpointIntervalMs: config.checkpoint.intervalMs,
        passivateAfterMs: config.engine.passivateAfterMs,
        store,
        consumer,
        outputs: this.outputs,
        system: this.system,
        logger,
        stats: this.stats,
        ...(this.deps.metrics === undefined ? {} : { metrics: this.deps.metrics }),
      });
      this.workers.set(key, w);
    }
    return w;
  }

  private onAssignment(partitions: readonly PartitionRef[]): void {
    this.owned = partitions;
    this.assigned = true;
    const keep = new Set(partitions.map(partitionKey));
    for (const [key, w] of this.workers) {
      // A fenced worker never processes again: an assignment that gives its partition back gets a new one.
      if (keep.has(key) && w.usable) continue;
      this.workers.delete(key);
      w.close().catch(() => undefined);
    }
    for (const ref of partitions) {
      const w = this.worker(ref);
      w.openEagerly();
      w.revalidate();
    }
    this.deps.logger.info({ partitions: [...keep].sort() }, 'partitions assigned');
    this.deps.onAssignment?.([...keep]);
  }

  private async onBatch(batch: ConsumedBatch, control: BatchControl): Promise<void> {
    const s = this.stats;
    const n = batch.records.length;
    s.inFlight += n;
    if (s.inFlight > s.inFlightMax) s.inFlightMax = s.inFlight;
    if (!this.paused && s.inFlight > this.deps.config.engine.maxInFlight) {
      this.paused = true;
      s.pauses += 1;
      this.deps.consumer.pause(this.owned);
    }
    try {
      await this.worker(batch).handle(batch, control);
    } finally {
      s.inFlight -= n;
      // Not while stopping: the drain paused every partition for good.
      if (
        this.paused &&
        this.stopping === undefined &&
        s.inFlight <= this.deps.config.engine.maxInFlight / 2
      ) {
        this.paused = false;
        this.deps.consumer.resume(this.owned);
      }
    }
  }

  /**
   * Replaces the rules of every sensor on this node at once (runtime rules). Rules are configuration,
   * not data: a replay after a crash evaluates with the rules in force then.
   */
  setRules(rules: readonly Rule[]): void {
    this.readings.pipeline.rules = rules;
    this.readings.silence = silenceThresholds(rules);
  }

  get rules(): readonly Rule[] {
    return this.readings.pipeline.rules;
  }

  /** The worker of the partition `sensorId` belongs to, if this node has it open. */
  private workerFor(sensorId: string): PartitionWorker {
    const topic = this.deps.config.kafka.topics.readings;
    const partition = partitionForKey(sensorId, this.deps.config.kafka.partitions.readings);
    const w = this.workers.get(partitionKey({ topic, partition }));
    if (w === undefined) throw new NotOwnedError(sensorId, `${topic}:${partition}`, this.nodeId);
    return w;
  }

  /**
   * Declares sensors expected to report (the control plane's ExpectSensors): an `expect` record each on
   * vigil.readings, so the silence rules watch them from there, whether they ever report or not.
   */
  expectSensors(sensorIds: readonly string[]): Promise<void> {
    return this.clockWriter.expect(sensorIds);
  }

  /** Clock records this node has written (it writes them while it holds the lease). */
  get clockRecords(): number {
    return this.clockWriter.written;
  }

  /** Fault injection (admin only over the control plane): crash one sensor's actor on its owner. */
  async crashSensor(sensorId: string): Promise<void> {
    await this.workerFor(sensorId).crashSensor(sensorId);
  }

  /** Pauses (holds its events) or resumes one sensor on this node. */
  controlSensor(sensorId: string, command: SensorCommand): Promise<void> {
    return this.workerFor(sensorId).controlSensor(sensorId, command);
  }

  /** A sensor's live state on this node (undefined: its partition never saw it). */
  inspectSensor(sensorId: string): Promise<SensorSnapshot | undefined> {
    return this.workerFor(sensorId).inspectSensor(sensorId);
  }

  /** The actor paths on this node: each partition actor and its sensors, sorted. */
  async listActors(): Promise<string[]> {
    const perPartition = await Promise.all([...this.workers.values()].map((w) => w.listActors()));
    return perPartition.flat().sort();
  }

  /**
   * Stops at once without writing checkpoints, as a crash would: for a fatal error, where writing
   * state could be wrong. Whatever was not checkpointed is replayed by the next owner.
   */
  abort(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.timer !== undefined) clearInterval(this.timer);
      await this.clockWriter.stop();
      await Promise.all([...this.workers.values()].map((w) => w.close()));
      await this.deps.consumer.stop();
      this.workers.clear();
      stopActor(this.system);
      await this.frequencies.stop();
      await this.deps.producer.close();
    })();
    return this.stopping;
  }

  /**
   * Drains: stops fetching, lets the batches in hand finish, writes a final checkpoint of every
   * partition (Redis, then the Kafka commit), and only then leaves the group, so the next owners start
   * exactly where this node stopped and replay nothing. (Leaving first would let them take the
   * partitions, and fence the final checkpoints, before they were written.)
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.timer !== undefined) clearInterval(this.timer);
      await this.clockWriter.stop();
      this.deps.consumer.pause(this.owned);
      await Promise.all([...this.workers.values()].map((w) => w.drain()));
      await this.deps.consumer.stop();
      this.workers.clear();
      stopActor(this.system);
      await this.frequencies.stop();
      await this.deps.producer.close();
      this.deps.logger.info({ stats: this.stats }, 'engine stopped');
    })();
    return this.stopping;
  }
}
