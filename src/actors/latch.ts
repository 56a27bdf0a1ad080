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
