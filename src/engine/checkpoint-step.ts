import { applySensorWrite, type StoredSensor } from '../core/checkpoint.js';
import { toVigilError } from '../core/errors.js';
import type { Logger } from '../obs/logger.js';
import type { RecordConsumer } from '../ports/record-log.js';
import type { CheckpointWrite, PartitionRef, StateStore } from '../ports/state-store.js';

/** Whom a checkpoint step tells how it went. */
export interface CheckpointOwner {
  /** The step landed in the store, `took` ms after its barrier (the Kafka commit follows). */
  onLanded(took: number): void;
  /** The step failed; takeFailure(epoch) tells what, once. */
  onFailed(): void;
}

/**
 * The store step of a partition's checkpoints, which lands while the next batches run.
 *
 * A checkpoint's state is captured at its barrier; writing it to the store then only needs to happen
 * before anything depends on it, so the partition does not wait for Redis (a large checkpoint took
 * hundreds of milliseconds at 25,000 readings/s, and every alert behind it waited). One step is in
 * flight at a time, in order. Its states:
 *
 *   idle --start(write)--> LANDING --store commit ok--> idle (onLanded; then the Kafka commit)
 *                             \--store commit fails--> FAILED (onFailed: the worker settles it in its
 *                                                      queue, by a reset or a fence, for that epoch only)
 *
 * While LANDING, what the step writes is the newest state of its sensors: a sensor that restores
 * itself (a crash) or is activated reads it over the store (`loadSnapshots`).
 */
export class CheckpointStep {
  private inFlight: Promise<void> | undefined;
  private landing: CheckpointWrite | undefined;
  private failed: { readonly epoch: number; readonly err: unknown } | undefined;
  /**
   * The offset last committed to Kafka by this partition's owner here; unknown after taking the
   * partition (the last owner may have died between the store step and the Kafka commit).
   */
  committed: string | undefined;

  constructor(
    private readonly ref: PartitionRef,
    private readonly ports: {
      readonly store: StateStore;
      readonly consumer: RecordConsumer;
      readonly logger: Logger;
    },
    private readonly events: CheckpointOwner,
  ) {}

  /** Resolves when no step is in flight. */
  async settled(): Promise<void> {
    if (this.inFlight !== undefined) await this.inFlight;
  }

  get landingNow(): boolean {
    return this.inFlight !== undefined;
  }

  /** The error of a step of `epoch` that failed, once (then forgotten); undefined when none did. */
  takeFailure(epoch: number): { readonly err: unknown } | undefined {
    const failed = this.failed;
    this.failed = undefined;
    return failed?.epoch === epoch ? failed : undefined;
  }

  /** A failure not yet settled, whatever its epoch (for a final report). */
  get pendingFailure(): unknown {
    return this.failed?.err;
  }

  forgetFailure(): void {
    this.failed = undefined;
  }

  /** Starts landing `write`, captured at `started` (the previous step has settled: see settled()). */
  start(write: CheckpointWrite, started: number): void {
    this.landing = write;
    this.inFlight = this.land(write, started).finally(() => {
      this.inFlight = undefined;
      this.landing = undefined;
    });
  }

  private async land(write: CheckpointWrite, started: number): Promise<void> {
    try {
      await this.ports.store.commit(this.ref, write);
    } catch (err) {
      this.failed = { epoch: write.epoch, err };
      this.events.onFailed();
      return;
    }
    this.events.onLanded(Date.now() - started);
    try {
      await this.ports.consumer.commit(this.ref, write.offset);
      this.committed = write.offset;
    } catch (err) {
      // The store holds the truth; a missed Kafka commit only makes lag tools lag. Retried next time.
      this.ports.logger.warn(
        { err: toVigilError(err) },
        'committing the checkpointed offset to Kafka failed',
      );
    }
  }

  /**
   * Each sensor's state as of its last barrier, for a sensor that restores itself (a crash) or is
   * activated: the store's, with the changes of the step still on its way applied when it holds the
   * sensor (the sensor has dropped the events before that barrier). If the step lands while the
   * store is read, its changes are applied twice: the same main record and parts, and dedupe pairs
   * appended twice, which restore to the same index (the same key and time again).
   */
  async loadSnapshots(
    epoch: number,
    sensorIds: readonly string[],
  ): Promise<ReadonlyMap<string, StoredSensor>> {
    const landing = this.landing?.epoch === epoch ? this.landing.sensors : undefined;
    const stored = await this.ports.store.loadSensors(this.ref, sensorIds);
    if (landing === undefined) return stored;
    for (const id of sensorIds) {
      const write = landing.get(id);
      if (write !== undefined) stored.set(id, applySensorWrite(stored.get(id), write));
    }
    return stored;
  }
}
