/**
 * Counts down the sensors of one batch. Sensor actors call `done()` when they have handled their part,
 * so the partition learns that a batch is complete without thousands of children replying through its
 * mailbox (nact copies an actor's children map for every message it handles).
 */
export class Latch {
  private remaining: number;
  private resolve!: () => void;
  readonly promise: Promise<void>;

  constructor(count: number) {
    this.remaining = count;
    this.promise = new Promise<void>((resolve) => {
      this.resolve = resolve;
    });
    if (count <= 0) this.resolve();
  }

  done(): void {
    this.remaining -= 1;
    if (this.remaining === 0) this.resolve();
  }
}
