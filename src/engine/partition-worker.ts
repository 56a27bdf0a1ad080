import {
  applySensorWrite,
  decodePartitionState,
  encodePartitionState,
  type SensorStateWrite,
  type StoredSensor,
} from '../core/checkpoint.js';
import { newOutputBuffer, type RollupRecord } from '../core/outputs.js';
import type { DecodeResult, Reading } from '../core/reading.js';
import { routeBatch } from '../core/router.js';
import { StreamClock } from '../core/stream-clock.js';
import type { SensorCommand, SensorPipeline, SensorSnapshot } from '../core/sensor.js';
import { StaleEpochError, toVigilError, VigilError } from '../core/errors.js';
import { spawnPartition, type PartitionMsg } from '../actors/ingest.js';
import { Latch } from '../actors/latch.js';
import { actorName } from '../actors/names.js';
import { stopActor, tell, type ActorSystem, type Ref } from '../actors/nact.js';
import {
  nextOffset,
  type BatchControl,
  type ConsumedBatch,
  type RecordConsumer,
} from '../ports/record-log.js';
import type { Logger } from '../obs/logger.js';
import {
  partitionKey,
  type CheckpointWrite,
  type PartitionRef,
  type StateStore,
} from '../ports/state-store.js';
import type { FrequencyCounter } from './frequencies.js';
import type { OutputWriter } from './output-writer.js';
import type { EngineStats } from './stats.js';
import type { NodeMetrics } from '../obs/metrics.js';

export interface WorkerDeps {
  readonly pipeline: SensorPipeline;
  /** The stream's decoder: a sensor reading, or a log line as a reading of its source. */
  readonly decode: (raw: Buffer | null) => DecodeResult<Reading>;
  /** Live event counts (dashboard statistics). */
  readonly frequencies: FrequencyCounter;
  /** The silence thresholds of the rules in force now (they change with runtime rules). */
  readonly silenceThresholds: () => readonly number[];
  readonly buckets: number;
  readonly checkpointIntervalMs: number;
  /** Active sensors idle this long become dormant after a checkpoint (0: never). */
  readonly passivateAfterMs: number;
  readonly store: StateStore;
  readonly consumer: RecordConsumer;
  readonly outputs: OutputWriter;
  readonly system: ActorSystem;
  readonly logger: Logger;
  readonly stats: EngineStats;
  readonly metrics?: NodeMetrics;
}

/**
 * Owns one partition on this node. State machine:
 *
 *   closed-idle --first batch--> OPEN (acquire: new epoch, restore snapshots and stream clock)
 *   OPEN --batch--> process, ship outputs --(interval passed)--> CHECKPOINT --> OPEN
 *   CHECKPOINT --refused, stale epoch--> FENCED (another node owns it: drop everything, ignore batches)
 *   any --a step fails (actor escalated, store error)--> RESET: actors stopped, reopen at the next
 *        batch from the checkpoint (a new epoch) and seek back to the checkpoint's offset (replay)
 *   any --revoked / stopped--> CLOSED
 *
 * Everything a worker does runs through one queue, so batches, timer checkpoints and commands never
 * interleave on a partition.
 */
export class PartitionWorker {
  private state: 'idle' | 'open' | 'fenced' | 'closed' = 'idle';
  private epoch = 0;
  /** Next offset to process (the checkpoint's offset after a restore). */
  private offset: string | undefined;
  private committedOffset: string | undefined;
  private clock: StreamClock;
  private actor: Ref<PartitionMsg> | undefined;
  private actorName: string | undefined;
  private readonly dirty = new Set<string>();
  private rollups: RollupRecord[] = [];
  private lastCheckpoint = Date.now();
  /** Records between the next offset and the partition's end, as of the last batch. */
  private lag: number | undefined;
  /** Active sensor actors of this partition (dormant ones are not actors until needed). */
  private sensorActors = 0;
  /** When idle sensors were last passivated. */
  private lastSweep = Date.now();
  /** The store step of the last checkpoint, while it is on its way (see checkpoint()). */
  private inFlight: Promise<void> | undefined;
  /** What that step writes: until it lands, the sensors' last barrier state is here, not in the store. */
  private landing: CheckpointWrite | undefined;
  /** A store step that failed, until the queue settles it (reset, or fence when the epoch is stale). */
  private landingFailed: { readonly epoch: number; readonly err: unknown } | undefined;
  /** Resets since the last good checkpoint: the next reopen waits longer each time (up to 30 s). */
  private failures = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly logger: Logger;
  readonly key: string;

  constructor(
    readonly ref: PartitionRef,
    private readonly deps: WorkerDeps,
  ) {
    this.key = partitionKey(ref);
    this.logger = deps.logger.child({ partition: this.key });
    this.clock = new StreamClock(deps.pipeline.idleTimeoutMs, deps.silenceThresholds());
  }

  get status(): {
    state: string;
    epoch: number;
    offset: string | undefined;
    dirty: number;
    lastCheckpointAt: number;
    lag: number | undefined;
  } {
    return {
      state: this.state,
      epoch: this.epoch,
      offset: this.offset,
      dirty: this.dirty.size,
      lastCheckpointAt: this.lastCheckpoint,
      lag: this.lag,
    };
  }

  /** Actors of this partition: the partition actor, its buckets and the sensors spawned. */
  get actors(): number {
    return this.actor === undefined ? 0 : 1 + this.deps.buckets + this.sensorActors;
  }

  private run<T>(step: () => Promise<T>): Promise<T> {
    const next = this.queue.then(step);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** False once fenced or closed: such a worker never processes again (a new one must take over). */
  get usable(): boolean {
    return this.state === 'idle' || this.state === 'open';
  }

  /**
   * Called when a new assignment keeps this partition here. A node stopped past its session timeout
   * (a zombie) can miss a whole revoke-and-return: another node took the partition (a newer epoch) and
   * it came back. Then this worker's epoch is stale and every checkpoint would be refused; it takes the
   * partition again instead (new epoch, state restored from the checkpoint, replay from there).
   */
  revalidate(): void {
    this.run(async () => {
      if (this.state !== 'open') return;
      const current = await this.deps.store.epoch(this.ref);
      if (current === this.epoch) return;
      this.logger.warn({ epoch: this.epoch, current }, 'partition was taken meanwhile: taking it again');
      this.stopActors();
      this.state = 'idle';
      await this.open();
      this.deps.consumer.seek(this.ref, this.offset ?? '0');
    }).catch((err: unknown) => {
      this.logger.warn({ err }, 'revalidating the partition failed; the first batch will reopen it');
    });
  }

  /**
   * Takes the partition now rather than on its first batch: fences the previous owner and restores
   * the sensors, so a quiet partition is owned, listed and ready before records come. A failure is
   * logged; the first batch tries again.
   */
  openEagerly(): void {
    this.run(async () => {
      if (this.state === 'idle') await this.open();
    }).catch((err: unknown) => {
      this.logger.warn({ err }, 'opening the partition failed; the first batch will try again');
    });
  }

  handle(batch: ConsumedBatch, control: BatchControl): Promise<void> {
    return this.run(async () => {
      if (this.state === 'fenced' || this.state === 'closed') return;
      if (this.state === 'idle') await this.open();
      let records = batch.records;
      const first = records[0];
      if (first === undefined) return;
      if (this.offset !== undefined) {
        const want = BigInt(this.offset);
        if (BigInt(first.offset) > want) {
          // The log is ahead of the checkpoint (after a reset, or Kafka committed past Redis): go back.
          this.deps.consumer.seek(this.ref, this.offset);
          return;
        }
        if (BigInt(first.offset) < want) records = records.filter((r) => BigInt(r.offset) >= want);
        if (records.length === 0) return;
      }
      await this.process(records, batch);
      if (!control.isActive()) return;
      if (Date.now() - this.lastCheckpoint >= this.deps.checkpointIntervalMs) await this.checkpoint();
      await control.heartbeat();
    });
  }

  private async open(): Promise<void> {
    if (this.failures > 0)
      await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 100 * 2 ** (this.failures - 1))));
    // A step of the previous epoch still on its way lands (or is refused) before the new epoch reads
    // the store, so the state restored here is never overtaken by it.
    if (this.inFlight !== undefined) await this.inFlight;
    this.landingFailed = undefined;
    const restored = await this.deps.store.acquire(this.ref);
    this.epoch = restored.epoch;
    this.offset = restored.offset;
    // What Kafka holds is unknown: the last owner may have died between the Redis step and the Kafka
    // commit. The first checkpoint commits the offset again, so lag tools catch up even when idle.
    this.committedOffset = undefined;
    this.clock = new StreamClock(this.deps.pipeline.idleTimeoutMs, this.deps.silenceThresholds());
    if (restored.partitionState !== undefined) {
      const state = decodePartitionState(restored.partitionState);
      if (state.v === 1) this.clock.restore(state.clock);
      else this.clock.restoreEntries(state.st, restored.clockEntries);
    }
    this.dirty.clear();
    this.rollups = [];
    this.actorName = `partition-${this.ref.topic}-${this.ref.partition}-e${this.epoch}`;
    this.actor = spawnPartition(this.deps.system, this.actorName, {
      pipeline: this.deps.pipeline,
      logger: this.logger,
      bucketCount: this.deps.buckets,
      loadSnapshots: (sensorIds) => this.loadSnapshots(sensorIds),
      onRecovery: (sensorId, reason) => {
        this.deps.stats.recoveries += 1;
        this.logger.warn({ sensorId, reason }, 'sensor restored from its last checkpoint');
      },
      onSpawn: () => {
        this.sensorActors += 1;
      },
    });
    // Every checkpointed sensor starts dormant: its snapshot is loaded when it is first needed.
    if (restored.sensorIds.length > 0) tell(this.actor, { type: 'dormant', sensorIds: restored.sensorIds });
    this.state = 'open';
    this.lastCheckpoint = Date.now();
    this.lastSweep = Date.now();
    this.logger.info(
      { epoch: this.epoch, offset: this.offset, sensors: restored.sensorIds.length },
      'partition opened',
    );
  }

  private async process(records: ConsumedBatch['records'], batch: ConsumedBatch): Promise<void> {
    const actor = this.actor;
    if (actor === undefined) return;
    // Runtime rules may have added or removed silence rules since the last batch.
    this.clock.setSilenceThresholds(this.deps.silenceThresholds());
    const routed = routeBatch(records, this.ref.topic, this.ref.partition, this.clock, this.deps.decode);
    this.deps.frequencies.add(routed.groups);
    const out = newOutputBuffer();
    const sourceOf = (reading: Parameters<typeof routed.sources.get>[0]) => ({
      topic: batch.topic,
      partition: batch.partition,
      offset: routed.sources.get(reading) ?? 'unknown',
    });
    if (routed.groups.size > 0) {
      const latch = new Latch(routed.groups.size);
      tell(actor, {
        type: 'events',
        groups: routed.groups,
        batch: { out, deadLetters: routed.deadLetters, latch, sourceOf },
      });
      try {
        await latch.promise;
      } catch (err) {
        this.reset(err);
        return;
      }
    }
    await this.deps.outputs.send(out, routed.deadLetters, (i) =>
      sourceOf((out.late[i] as (typeof out.late)[number]).reading),
    );
    for (const sensorId of routed.groups.keys()) this.dirty.add(sensorId);
    for (const r of out.rollups) this.rollups.push(r);
    const last = records[records.length - 1];
    if (last !== undefined) this.offset = nextOffset(last.offset);
    if (batch.highWatermark !== undefined && this.offset !== undefined)
      this.lag = Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(this.offset)));
    const m = this.deps.metrics;
    if (m !== undefined) {
      m.recordsIn.inc({ topic: this.ref.topic }, records.length);
      if (routed.deadLetters.length > 0) m.deadLetters.inc({ source: 'engine' }, routed.deadLetters.length);
      if (out.late.length > 0) m.late.inc(out.late.length);
      for (const a of out.alerts) m.alerts.inc({ rule: a.ruleId, state: a.state });
    }
    const s = this.deps.stats;
    s.records += records.length;
    s.batches += 1;
    s.deadLetters += routed.deadLetters.length;
    s.windowResults += out.windowResults.length;
    s.alerts += out.alerts.length;
    s.late += out.late.length;
    s.duplicates += out.duplicates.length;
    s.autoResumes += out.resumed.length;
    for (const sensorId of out.resumed)
      this.logger.warn(
        { sensorId, held: this.deps.pipeline.maxHeldEvents },
        'paused sensor resumed by itself: its hold is full (engine.maxHeldPerSensor)',
      );
  }

  /**
   * Writes a checkpoint if anything changed: a barrier (every changed sensor snapshots its state, in
   * mailbox order after the batches before it), then ONE fenced store step, then the Kafka commit.
   *
   * The store step runs while the next batches are processed: it holds state captured at the
   * barrier, so waiting for Redis would only stall the partition (a large checkpoint took hundreds of
   * milliseconds at 25,000 readings/s, and every alert behind it waited). One step is in flight at a
   * time, in order: the next checkpoint waits for it. Outputs of batches processed meanwhile are
   * produced before any checkpoint covers them, as always; if the step fails, the partition resets to
   * the last checkpoint that did land (or is fenced), and those outputs come again with the same ids.
   */
  private async checkpoint(): Promise<void> {
    if (this.inFlight !== undefined) await this.inFlight;
    // A failed step is settled before anything else is written: a later checkpoint holds only the
    // sensors changed since that barrier, so landing it would skip what the failed one carried.
    if (this.settleFailedLanding()) return;
    const actor = this.actor;
    if (this.state !== 'open' || actor === undefined || this.offset === undefined) return;
    if (this.dirty.size === 0 && this.rollups.length === 0 && this.offset === this.committedOffset) return;
    const started = Date.now();
    const sensors = [...this.dirty];
    const snapshots = new Map<string, SensorStateWrite>();
    const latch = new Latch(sensors.length);
    if (sensors.length > 0) tell(actor, { type: 'barrier', sensors, barrier: { snapshots, latch } });
    try {
      await latch.promise;
    } catch (err) {
      this.reset(err);
      return;
    }
    const write = {
      epoch: this.epoch,
      offset: this.offset,
      partitionState: encodePartitionState({
        v: 2,
        st: Number.isFinite(this.clock.now) ? this.clock.now : null,
      }),
      clockEntries: this.clock.takeChanges(),
      sensors: snapshots,
      rollups: this.rollups,
    };
    this.dirty.clear();
    this.rollups = [];
    this.lastCheckpoint = started;
    this.landing = write;
    this.inFlight = this.land(write, started).finally(() => {
      this.inFlight = undefined;
      this.landing = undefined;
    });
  }

  /**
   * Each sensor's state as of its last barrier, for a sensor that restores itself (a crash) or is
   * activated: the store's, with the changes of the step still on its way applied when it holds the
   * sensor (the sensor has dropped the events before that barrier). If the step lands while the
   * store is read, its changes are applied twice: the same main record and parts, and dedupe pairs
   * appended twice, which restore to the same index (the same key and time again).
   */
  private async loadSnapshots(sensorIds: readonly string[]): Promise<ReadonlyMap<string, StoredSensor>> {
    const landing = this.landing?.epoch === this.epoch ? this.landing.sensors : undefined;
    const stored = await this.deps.store.loadSensors(this.ref, sensorIds);
    if (landing === undefined) return stored;
    for (const id of sensorIds) {
      const write = landing.get(id);
      if (write !== undefined) stored.set(id, applySensorWrite(stored.get(id), write));
    }
    return stored;
  }

  /**
   * Resets (or fences) the partition if a store step failed for its current epoch. True when the
   * partition is no longer open for this step's caller to go on.
   */
  private settleFailedLanding(): boolean {
    const failed = this.landingFailed;
    if (failed === undefined) return false;
    this.landingFailed = undefined;
    if (this.epoch !== failed.epoch || this.state !== 'open') return false;
    if (failed.err instanceof StaleEpochError) this.fence(failed.err);
    else this.reset(failed.err);
    return true;
  }

  /** The store step of a checkpoint, then the Kafka commit; a failure resets or fences (in the queue). */
  private async land(write: CheckpointWrite, started: number): Promise<void> {
    try {
      await this.deps.store.commit(this.ref, write);
    } catch (err) {
      // Settled in the queue (or by the next checkpoint, whichever comes first), and only if the
      // partition is still the one this step was for.
      this.landingFailed = { epoch: write.epoch, err };
      void this.run(() => {
        this.settleFailedLanding();
        return Promise.resolve();
      }).catch(() => undefined);
      return;
    }
    const took = Date.now() - started;
    this.failures = 0;
    this.deps.stats.checkpoints += 1;
    this.deps.stats.lastCheckpointMs = took;
    this.deps.metrics?.checkpointDuration.observe(took / 1000);
    // Every sensor's state is in the store now if nothing changed since the barrier: the moment idle
    // ones can become dormant (passivateIdle checks, in the queue).
    void this.run(() => {
      this.passivateIdle();
      return Promise.resolve();
    }).catch(() => undefined);
    try {
      await this.deps.consumer.commit(this.ref, write.offset);
      this.committedOffset = write.offset;
    } catch (err) {
      // Redis holds the truth; a missed Kafka commit only makes lag tools lag. Retried next time.
      this.logger.warn({ err: toVigilError(err) }, 'committing the checkpointed offset to Kafka failed');
    }
  }

  private stopActors(): void {
    if (this.actor !== undefined) stopActor(this.actor);
    this.actor = undefined;
    this.sensorActors = 0;
  }

  /** Another owner has the partition: drop it without writing anything. */
  private fence(err: StaleEpochError): void {
    this.deps.stats.fenced += 1;
    this.logger.warn(
      { epoch: err.epoch, current: err.currentEpoch },
      'checkpoint refused: the partition has a newer owner; dropping it',
    );
    this.stopActors();
    this.state = 'fenced';
  }

  /**
   * A step failed: forget in-memory state and rewind the log to the last checkpoint; the next batch
   * reopens the partition (new epoch, restored snapshots) and replays from there.
   */
  private reset(err: unknown): void {
    this.deps.stats.resets += 1;
    this.failures += 1;
    this.logger.error(
      { err: toVigilError(err), failures: this.failures },
      'partition step failed; restarting it from its last checkpoint',
    );
    this.stopActors();
    this.state = 'idle';
    this.deps.consumer.seek(this.ref, this.committedOffset ?? '0');
  }

  /** Timer path: checkpoint a partition that has been quiet since its last batch. */
  checkpointIfDue(): Promise<void> {
    return this.run(async () => {
      if (Date.now() - this.lastCheckpoint >= this.deps.checkpointIntervalMs) await this.checkpoint();
      this.passivateIdle();
    });
  }

  /**
   * Makes idle sensors dormant (see actors/ingest.ts), at most every quarter of `passivateAfter`
   * (and every second). Only when no sensor changed since the last checkpoint, so the store holds
   * every sensor's state: right after a checkpoint, or on the timer of a quiet partition. Runs in the
   * worker's queue, so no batch is in the actors meanwhile.
   */
  private passivateIdle(): void {
    const after = this.deps.passivateAfterMs;
    const actor = this.actor;
    if (after <= 0 || actor === undefined || this.state !== 'open' || this.dirty.size > 0) return;
    if (this.inFlight !== undefined) return; // the last checkpoint is not in the store yet
    const now = Date.now();
    if (now - this.lastSweep < Math.max(1_000, after / 4)) return;
    this.lastSweep = now;
    let answered = 0;
    let active = 0;
    tell(actor, {
      type: 'passivate',
      before: now - after,
      done: (passivated, stillActive) => {
        this.deps.stats.passivations += passivated;
        active += stillActive;
        if (++answered === this.deps.buckets) this.sensorActors = active;
      },
    });
  }

  /** Final checkpoint (drain), then close. */
  drain(): Promise<void> {
    return this.run(async () => {
      await this.checkpoint();
      await this.inFlight;
      if (this.landingFailed !== undefined)
        this.logger.warn(
          { err: toVigilError(this.landingFailed.err) },
          'the final checkpoint failed: the next owner replays from the one before',
        );
      this.stopActors();
      this.state = 'closed';
    });
  }

  /** Revoked: close without checkpointing (the new owner may already have fenced this node). */
  close(): Promise<void> {
    return this.run(() => {
      this.stopActors();
      this.state = 'closed';
      return Promise.resolve();
    });
  }

  /** The current state of one sensor (undefined: this partition has never seen it), in mailbox order. */
  inspectSensor(sensorId: string): Promise<SensorSnapshot | undefined> {
    return this.run(() => {
      const actor = this.actor;
      if (actor === undefined)
        return Promise.reject(
          new VigilError(`partition ${this.key} is not open on this node`, { code: 'PARTITION_NOT_OPEN' }),
        );
      return new Promise<SensorSnapshot | undefined>((resolve) => {
        tell(actor, { type: 'inspect', sensorId, reply: resolve });
      });
    });
  }

  /** The actor paths of this partition's sensors, in mailbox order (after the batches before it). */
  listActors(): Promise<string[]> {
    return this.run(() => {
      const actor = this.actor;
      const name = this.actorName;
      if (actor === undefined || name === undefined) return Promise.resolve([]);
      const buckets = this.deps.buckets;
      return new Promise<string[]>((resolve) => {
        const paths: string[] = [name];
        let answered = 0;
        tell(actor, {
          type: 'list',
          reply: (bucket, sensorIds) => {
            for (const id of sensorIds) paths.push(`${name}/bucket-${bucket}/${actorName('sensor-', id)}`);
            if (++answered === buckets) resolve(paths);
          },
        });
      });
    });
  }

  /** Pauses or resumes one sensor; resuming ships the outputs of the events it held. */
  controlSensor(sensorId: string, command: SensorCommand): Promise<void> {
    return this.run(async () => {
      const actor = this.actor;
      if (actor === undefined)
        throw new VigilError(`partition ${this.key} is not open on this node`, {
          code: 'PARTITION_NOT_OPEN',
        });
      const out = newOutputBuffer();
      const latch = new Latch(1);
      tell(actor, { type: 'control', sensorId, command, out, latch });
      try {
        await latch.promise;
      } catch (err) {
        this.reset(err);
        throw err;
      }
      // Held events' sources are not kept: their late records carry the partition, not the offset.
      await this.deps.outputs.send(out, [], () => ({
        topic: this.ref.topic,
        partition: this.ref.partition,
        offset: 'held',
      }));
      this.dirty.add(sensorId);
      for (const r of out.rollups) this.rollups.push(r);
    });
  }

  /** Fault injection: crash one sensor actor, which restores itself from the last checkpoint. */
  crashSensor(sensorId: string): Promise<void> {
    return this.run(async () => {
      if (this.actor === undefined)
        throw new VigilError(`partition ${this.key} is not open on this node`, {
          code: 'PARTITION_NOT_OPEN',
        });
      const latch = new Latch(1);
      tell(this.actor, { type: 'crash', sensorId, latch });
      try {
        await latch.promise;
      } catch (err) {
        this.reset(err);
        throw err;
      }
    });
  }
}
