import { toVigilError } from '../core/errors.js';

/** What a node's readiness is made of. */
export interface ReadinessChecks {
  /** Why the engine is not ready (Engine.notReady: the group not joined, partitions not restored, draining). */
  readonly engine: () => string | undefined;
  /** Resolve when Kafka answers, and the state store (Redis). */
  readonly kafka: () => Promise<void>;
  readonly store: () => Promise<void>;
}

/**
 * Whether a node is ready to work, for orchestrators' probes (`GET /healthz/ready`) and gRPC health:
 * its engine has joined the group and restored every partition it was given, is not draining, and
 * Kafka and Redis answer (each within `timeoutMs`). Checked at most once a second however often it is
 * asked, so probes cost the services nothing to speak of.
 */
export class Readiness {
  private last: { readonly at: number; readonly reasons: string[] } | undefined;
  private checking: Promise<string[]> | undefined;

  constructor(
    private readonly checks: ReadinessChecks,
    private readonly timeoutMs = 2_000,
  ) {}

  /** Why the node is not ready (empty: it is). */
  reasons(): Promise<string[]> {
    const last = this.last;
    if (last !== undefined && Date.now() - last.at < 1_000) return Promise.resolve(last.reasons);
    this.checking ??= this.check().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  private async check(): Promise<string[]> {
    const reasons: string[] = [];
    const engine = this.checks.engine();
    if (engine !== undefined) reasons.push(engine);
    const answers = async (what: string, call: () => Promise<void>): Promise<string | undefined> => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`no answer within ${this.timeoutMs} ms`));
        }, this.timeoutMs);
      });
      try {
        await Promise.race([call(), late]);
        return undefined;
      } catch (err) {
        return `${what} does not answer: ${toVigilError(err).message}`;
      } finally {
        clearTimeout(timer);
      }
    };
    const services = await Promise.all([
      answers('Kafka', this.checks.kafka),
      answers('Redis', this.checks.store),
    ]);
    for (const why of services) if (why !== undefined) reasons.push(why);
    this.last = { at: Date.now(), reasons };
    return reasons;
  }
}
