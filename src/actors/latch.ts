/**
 * Counts down the actors taking part in one step (a batch, a barrier). Each calls `done()` when it
 * has handled its part, so the partition learns that the step is complete without thousands of
 * children replying through its mailbox (nact copies an actor's children map for every message).
 * A supervision policy that gives up calls `fail()`, which rejects the step at once.
 */
export class Latch {
  private remaining: number;
  private resolve!: () => void;
  private reject!: (err: unknown) => void;
  readonly promise: Promise<void>;

  constructor(count: number) {
    this.remaining = count;
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // A failed step may have nobody awaiting it yet; the rejection is observed by whoever awaits.
    this.promise.catch(() => undefined);
    if (count <= 0) this.resolve();
  }

  done(): void {
    this.remaining -= 1;
    if (this.remaining === 0) this.resolve();
  }

  fail(err: unknown): void {
    this.remaining = -1;
    this.reject(err);
  }
}

/**
 * Collects one answer from each of `count` actors (every bucket of a partition, or the one sensor
 * asked), so a question fanned out over actors comes back as one promise of all the answers, in the
 * order they came. As with Latch, the answers never pass through a parent's mailbox.
 */
export class Gather<T> {
  private readonly values: T[] = [];
  private readonly latch: Latch;
  readonly promise: Promise<T[]>;

  constructor(count: number) {
    this.latch = new Latch(count);
    this.promise = this.latch.promise.then(() => this.values);
    this.promise.catch(() => undefined);
  }

  add(value: T): void {
    this.values.push(value);
    this.latch.done();
  }

  fail(err: unknown): void {
    this.latch.fail(err);
  }
}
