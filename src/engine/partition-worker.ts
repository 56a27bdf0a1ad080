import { stopActor, tell, type Ref } from '../actors/nact.js';
import { spawnPartition, type PartitionMsg } from '../actors/partition-actor.js';
import { StaleEpochError, toVigilError, VigilError } from '../core/errors.js';
import { placeBatch, positionAfter, skipGaps } from '../core/log-position.js';
import { newOutputBuffer } from '../core/outputs.js';
import { splitSteps } from '../core/batch-steps.js';
import type { SensorCommand, SensorSnapshot } from '../core/sensor.js';
import type { StreamClock } from '../core/stream-clock.js';
import type { Logger } from '../obs/logger.js';
import type { BatchControl, ConsumedBatch } from '../ports/record-log.js';
import { partitionKey, type CheckpointWrite, type PartitionRef } from '../ports/state-store.js';
import { countBatch, countRecoveries, type BatchCounters } from './batch-stats.js';
import { runStep } from './batch-step.js';
import { CheckpointStep, type CheckpointOwner } from './checkpoint-step.js';
import { askBarrier, askCommand, askInspect, askList } from './partition-asks.js';
import { Passivation } from './passivation.js';
import { PendingMinutes } from './pending-minutes.js';
import {
  backoff,
  partitionStateOf,
  restoreClock,
  restoreForwarded,
  type WorkerDeps,
  type WorkerStatus,
} from './worker-deps.js';

export type { WorkerDeps } from './worker-deps.js';
/**
 * Owns one partition on this node. Its states (`state`, plus the checkpoint step's own, see
 * checkpoint-step.ts):
 *
 *   idle --open (first batch, the assignment, or revalidate)--> open
 *          open = acquire: a new epoch, restore the stream clock, every checkpointed sensor dormant
 *   open --batch--> route, process in the actors, ship the outputs; when the interval has passed, a
 *          CHECKPOINT: barrier, then the store step lands in the background (CheckpointStep)
 *   open --a step fails (an actor escalated, the store failed): RESET--> idle: actors stopped, the
 *          log rewound to the last committed offset; the next batch reopens (new epoch) and replays,
 *          after a backoff that doubles with each failure since the last good checkpoint (to 30 s)
 *   open --a checkpoint refused for a stale epoch--> fenced: another node owns the partition; it
 *          drops everything and never processes again (a new assignment makes a new worker)
 *   open --revalidate finds a newer epoch (this node was a zombie)--> idle, reopened at once
 *   any --revoked (close) or drained (drain: a final checkpoint first)--> closed
 *
 * Everything a worker does runs through one queue, so batches, timer checkpoints and commands never
 * interleave on a partition.
 */
export class PartitionWorker implements CheckpointOwner {
  private state: 'idle' | 'open' | 'fenced' | 'closed' = 'idle';
  private epoch = 0;
  /** Next offset to process (the checkpoint's offset after a restore). */
  private offset: string | undefined;
  private clock: StreamClock;
  private actor: Ref<PartitionMsg> | undefined;
  private actorName: string | undefined;
  private readonly dirty = new Set<string>();
  /** Forwarded readings taken, per origin partition (core/router.ts); checkpointed. */
  private forwarded = new Map<number, bigint>();
  private readonly pending = new PendingMinutes();
  private lastCheckpoint = Date.now();
  /** Records between the next offset and the partition's end, as of the last batch. */
  private lag: number | undefined;
  /** Active sensor actors of this partition (dormant ones are not actors until needed). */
  private sensorActors = 0;
  private readonly passivation: Passivation;
  private readonly step: CheckpointStep;
  /** Resets since the last good checkpoint: the next reopen waits longer each time (up to 30 s). */
  private failures = 0;
  /** Seeks this worker made: a batch delivered before the latest one is stale (see handle). */
  private seeks = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly logger: Logger;
  private readonly counters: BatchCounters;
  readonly key: string;

  constructor(
    readonly ref: PartitionRef,
    private readonly deps: WorkerDeps,
  ) {
    this.key = partitionKey(ref);
    this.logger = deps.logger.child({ partition: this.key });
    const maxHeldEvents = deps.pipeline.maxHeldEvents;
    this.counters = { ...deps, logger: this.logger, topic: ref.topic, maxHeldEvents };
    this.clock = restoreClock(deps);
    this.passivation = new Passivation(deps.passivateAfterMs, deps.buckets);
    this.step = new CheckpointStep(
      ref,
      { store: deps.store, consumer: deps.consumer, logger: this.logger },
      this,
    );
  }

  get status(): WorkerStatus {
    const { state, epoch, offset, lastCheckpoint: lastCheckpointAt, lag, clock } = this;
    return { state, epoch, offset, dirty: this.dirty.size, lastCheckpointAt, lag, streamTime: clock.known };
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

  /**
   * One batch of the partition. Offsets have gaps (transaction markers, aborted transactions,
   * compaction): where the batch stands against the position is decided by core/log-position.ts.
   */
  handle(batch: ConsumedBatch, control: BatchControl): Promise<void> {
    const seeksAtDelivery = this.seeks;
    return this.run(async () => {
      if (this.state === 'fenced' || this.state === 'closed') return;
      // A seek made since the batch was delivered (a reset): the consumer fetches again from there.
      if (seeksAtDelivery !== this.seeks) return;
      if (this.state === 'idle') await this.open();
      const next = this.offset === undefined ? undefined : BigInt(this.offset);
      // Gaps alone: nothing to process, but the position (and the next checkpoint) moves past them.
      const past = seeksAtDelivery === this.seeks ? skipGaps(next, batch.start, batch.end) : undefined;
      if (batch.records.length === 0 && past !== undefined) this.offset = past.toString();
      const offsets = batch.records.map((r) => r.offset);
      const placed = placeBatch(next, offsets, seeksAtDelivery !== this.seeks);
      if (!placed.use) return;
      const steps = splitSteps(
        placed.from === 0 ? batch.records : batch.records.slice(placed.from),
        this.deps.maxSensorsPerStep,
      );
      for (const [i, step] of steps.entries()) {
        if (!(await this.process(step, batch, i === steps.length - 1))) return;
        // A checkpoint stays bounded: a burst of new sensors is written in steps.
        if (this.dirty.size >= this.deps.maxDirtySensors) await this.checkpoint();
        if (!control.isActive()) return;
      }
      if (Date.now() - this.lastCheckpoint >= this.deps.checkpointIntervalMs) await this.checkpoint();
      await control.heartbeat();
    });
  }

  /** Moves the consumer's position; batches delivered before it are then dropped (see handle). */
  private seek(offset: string): void {
    this.seeks += 1;
    this.deps.consumer.seek(this.ref, offset);
  }

  private async open(): Promise<void> {
    await backoff(this.failures);
    // A step of the previous epoch still on its way lands (or is refused) before the new epoch reads
    // the store, so the state restored here is never overtaken by it.
    await this.step.settled();
    this.step.forgetFailure();
    const restored = await this.deps.store.acquire(this.ref);
    this.epoch = restored.epoch;
    this.offset = restored.offset;
    // What Kafka holds is unknown: the first checkpoint commits the offset again, so lag tools catch
    // up even when idle.
    this.step.committed = undefined;
    this.clock = restoreClock(this.deps, restored);
    this.forwarded = restoreForwarded(restored);
    this.dirty.clear();
    this.pending.clear();
    this.sensorActors = 0;
    this.actorName = `partition-${this.ref.topic}-${this.ref.partition}-e${this.epoch}`;
    const epoch = this.epoch;
    this.actor = spawnPartition(this.deps.system, this.actorName, {
      pipeline: this.deps.pipeline,
      logger: this.logger,
      bucketCount: this.deps.buckets,
      loadSnapshots: (sensorIds) => this.step.loadSnapshots(epoch, sensorIds),
    });
    // Every checkpointed sensor starts dormant: its snapshot is loaded when it is first needed.
    if (restored.sensorIds.length > 0) tell(this.actor, { type: 'dormant', sensorIds: restored.sensorIds });
    this.state = 'open';
    this.lastCheckpoint = Date.now();
    this.passivation.restart();
    // Processing resumes at the checkpoint, wherever the consumer's own position is (Kafka's committed
    // offset may lag behind it).
    if (this.offset !== undefined) this.seek(this.offset);
    this.logger.info(
      { epoch: this.epoch, offset: this.offset, sensors: restored.sensorIds.length },
      'partition opened',
    );
  }

  /** One step of a batch: false when it failed (the partition was reset). */
  private async process(
    records: ConsumedBatch['records'],
    batch: ConsumedBatch,
    last: boolean,
  ): Promise<boolean> {
    const actor = this.actor;
    if (actor === undefined) return false;
    // Runtime rules may have added or removed silence rules since the last batch.
    this.clock.setSilenceThresholds(this.deps.silenceThresholds());
    const { decode, partitions, maxFutureMs } = this.deps;
    const { topic, partition } = this.ref;
    const route = {
      topic,
      partition,
      partitions,
      clock: this.clock,
      decode,
      maxFutureMs,
      forwarded: this.forwarded,
      forwardVerbatim: this.deps.forwardVerbatim === true,
    };
    const { routed, out, activity, failed } = await runStep(actor, route, records, this.deps);
    this.sensorActors += activity.spawned;
    countRecoveries(this.counters, activity);
    if (failed !== undefined) {
      this.reset(failed);
      return false;
    }
    for (const sensorId of routed.groups.keys()) this.dirty.add(sensorId);
    this.pending.take(out);
    const end = records[records.length - 1];
    if (end !== undefined) this.offset = positionAfter(end.offset, last ? batch.end : undefined).toString();
    if (batch.highWatermark !== undefined && this.offset !== undefined)
      this.lag = Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(this.offset)));
    countBatch(this.counters, records.length, routed, out);
    return true;
  }

  /**
   * Writes a checkpoint if anything changed: a barrier (every changed sensor snapshots its state, in
   * mailbox order after the batches before it), then ONE fenced store step (in the background: see
   * CheckpointStep), then the Kafka commit. Outputs of batches processed meanwhile are produced
   * before any checkpoint covers them, as always; if the step fails, the partition resets to the last
   * checkpoint that did land (or is fenced), and those outputs come again with the same ids.
   */
  private async checkpoint(): Promise<void> {
    await this.step.settled();
    // A failed step is settled before anything else is written: a later checkpoint holds only the
    // sensors changed since that barrier, so landing it would skip what the failed one carried.
    if (this.settleFailedStep()) return;
    const actor = this.actor;
    if (this.state !== 'open' || actor === undefined || this.offset === undefined) return;
    if (this.dirty.size === 0 && this.pending.empty && this.offset === this.step.committed) return;
    const started = Date.now();
    const { snapshots, failed } = await askBarrier(actor, [...this.dirty]);
    if (failed !== undefined) {
      this.reset(failed);
      return;
    }
    const write: CheckpointWrite = {
      epoch: this.epoch,
      offset: this.offset,
      partitionState: partitionStateOf(this.clock, this.forwarded),
      clockEntries: this.clock.takeChanges(),
      sensors: snapshots,
      ...this.pending.drain(this.deps.pipeline.window.metrics),
    };
    this.dirty.clear();
    this.lastCheckpoint = started;
    this.step.start(write, started);
  }

  /** The store step landed (CheckpointOwner): counters, and passivation (in the queue). */
  onLanded(took: number): void {
    this.failures = 0;
    this.deps.stats.checkpoints += 1;
    this.deps.stats.lastCheckpointMs = took;
    this.deps.metrics?.checkpointDuration.observe(took / 1000);
    // Every sensor's state is in the store now if nothing changed since the barrier: the moment idle
    // ones can become dormant (passivateIdle checks, in the queue).
    void this.run(() => this.passivateIdle()).catch(() => undefined);
  }

  /**
   * A store step failed (CheckpointOwner): settled in the queue (or by the next checkpoint, whichever
   * comes first), and only if the partition is still the one the step was for.
   */
  onFailed(): void {
    void this.run(() => Promise.resolve(this.settleFailedStep())).catch(() => undefined);
  }

  /**
   * Resets (or fences) the partition if a store step failed for its current epoch. True when the
   * partition is no longer open for this step's caller to go on.
   */
  private settleFailedStep(): boolean {
    const failed = this.step.takeFailure(this.epoch);
    if (failed === undefined || this.state !== 'open') return false;
    if (failed.err instanceof StaleEpochError) this.fence(failed.err);
    else this.reset(failed.err);
    return true;
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
    this.seek(this.step.committed ?? '0');
  }

  /** Timer path: checkpoint a partition that has been quiet since its last batch. */
  checkpointIfDue(): Promise<void> {
    return this.run(async () => {
      if (Date.now() - this.lastCheckpoint >= this.deps.checkpointIntervalMs) await this.checkpoint();
      await this.passivateIdle();
    });
  }

  /** Makes idle sensors dormant when due (see Passivation). Runs in the queue: no batch is in the actors. */
  private async passivateIdle(): Promise<void> {
    const actor = this.actor;
    if (actor === undefined || this.state !== 'open') return;
    const swept = await this.passivation.sweep(actor, this.dirty.size === 0 && !this.step.landingNow);
    if (swept === undefined) return;
    this.deps.stats.passivations += swept.passivated;
    this.sensorActors = swept.active;
  }

  /** Final checkpoint (drain), then close. */
  drain(): Promise<void> {
    return this.run(async () => {
      await this.checkpoint();
      await this.step.settled();
      const failed = this.step.pendingFailure;
      if (failed !== undefined)
        this.logger.warn(
          { err: toVigilError(failed) },
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

  /** The open partition actor, or an error saying the partition is not open here. */
  private openActor(): Ref<PartitionMsg> {
    if (this.actor === undefined)
      throw new VigilError(`partition ${this.key} is not open on this node`, { code: 'PARTITION_NOT_OPEN' });
    return this.actor;
  }

  /** The current state of one sensor (undefined: this partition has never seen it), in mailbox order. */
  inspectSensor(sensorId: string): Promise<SensorSnapshot | undefined> {
    return this.run(() => askInspect(this.openActor(), sensorId));
  }

  /** The actor paths of this partition's sensors, in mailbox order (after the batches before it). */
  listActors(): Promise<string[]> {
    return this.run(async () => {
      const { actor, actorName: name } = this;
      return actor === undefined || name === undefined ? [] : askList(actor, name, this.deps.buckets);
    });
  }

  /** Pauses or resumes one sensor; resuming ships the outputs of the events it held. */
  controlSensor(sensorId: string, command: SensorCommand): Promise<void> {
    return this.run(async () => {
      const out = newOutputBuffer();
      await this.command((latch, activity) => ({ type: 'control', sensorId, command, out, latch, activity }));
      // Held events' sources are not kept: their late records carry the partition, not the offset.
      await this.deps.outputs.send(out, [], () => ({ ...this.ref, offset: 'held' }));
      this.dirty.add(sensorId);
      this.pending.take(out);
    });
  }

  /** Fault injection: crash one sensor actor, which restores itself from the last checkpoint. */
  crashSensor(sensorId: string): Promise<void> {
    return this.run(() => this.command((latch, activity) => ({ type: 'crash', sensorId, latch, activity })));
  }

  /** A command for one sensor; a failure resets the partition and is thrown. */
  private async command(msg: Parameters<typeof askCommand>[1]): Promise<void> {
    const { activity, error } = await askCommand(this.openActor(), msg);
    this.sensorActors += activity.spawned;
    countRecoveries(this.counters, activity);
    if (error === undefined) return;
    this.reset(error);
    throw error as Error;
  }
}
