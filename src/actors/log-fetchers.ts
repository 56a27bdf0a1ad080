import type { LogSourceConfig } from '../config/load.js';
import type { Logger } from '../obs/logger.js';
import { LeaseLostError, type SourceLease, type SourceStore } from '../ports/source-store.js';
import { actorName } from './names.js';
import { spawnActor, stopActor, tell, type ActorSystem, type Ref, type SupervisionCtx } from './nact.js';

/** What a fetcher actor drives: open (fence, restore), poll, close. LogFetcher is the real one. */
export interface Fetcher {
  open(): Promise<void>;
  poll(): Promise<{ lines: number; more: boolean }>;
  close(): Promise<void>;
}

export interface LogsDeps {
  readonly nodeId: string;
  readonly sources: readonly LogSourceConfig[];
  readonly leaseMs: number;
  readonly pollIntervalMs: number;
  readonly store: SourceStore;
  /** A new fetcher for a source held under `lease` (each with its own transactional producer). */
  readonly fetcher: (source: LogSourceConfig, lease: SourceLease) => Fetcher;
  readonly logger: Logger;
  /** Called when this node takes or gives up a source (membership, stats). */
  readonly onChange?: (held: readonly string[]) => void;
}

/**
 * The log side of a node:
 *
 *   logs                 every lease/3: renews the leases it holds, takes free sources, and spawns a
 *                        fetcher for each source it holds; stops the fetcher of a lease it lost
 *     fetcher-<source>   polls its source (LogFetcher) every pollInterval, at once while behind
 *
 * Supervision, decided here:
 *   fetcher  a poll or open that fails (I/O, Kafka, Redis) RESETS the fetcher from its checkpoint: the
 *            fetcher is closed and a new one opens after a backoff (100 ms doubling to 30 s), fencing
 *            its own last producer and settling a write left pending. LeaseLostError: STOP (the source
 *            has another owner); the logs actor drops it at its next renew. A crash of the actor
 *            itself (a bug): STOP and release the lease, so the next tick (here or on another node)
 *            takes the source again.
 *   logs     a failed tick is logged and the next tick tries again (leases are only renewed when the
 *            store answers; one that lapses meanwhile moves to another node, which is the point).
 */
type FetcherMsg = { readonly type: 'poll' } | { readonly type: 'stop'; readonly done: () => void };

type LogsMsg =
  | { readonly type: 'tick' }
  | { readonly type: 'stopped'; readonly source: string }
  | { readonly type: 'release'; readonly done: () => void }
  | { readonly type: 'held'; readonly reply: (held: readonly string[]) => void };

interface FetcherState {
  fetcher: Fetcher | undefined;
  failures: number;
  timer: NodeJS.Timeout | undefined;
  stopped: boolean;
}

function spawnFetcher(
  parent: Ref<LogsMsg>,
  source: LogSourceConfig,
  lease: SourceLease,
  deps: LogsDeps,
): Ref<FetcherMsg> {
  const log = deps.logger.child({ source: source.id });
  const schedule = (state: FetcherState, self: Ref<FetcherMsg>, ms: number): void => {
    if (state.stopped) return;
    state.timer = setTimeout(() => {
      tell(self, { type: 'poll' });
    }, ms);
  };
  const poll = async (state: FetcherState, self: Ref<FetcherMsg>): Promise<FetcherState> => {
    state.timer = undefined;
    if (state.stopped) return state;
    try {
      if (state.fetcher === undefined) {
        const fetcher = deps.fetcher(source, lease);
        state.fetcher = fetcher;
        await fetcher.open();
      }
      const { more } = await state.fetcher.poll();
      state.failures = 0;
      schedule(state, self, more ? 0 : deps.pollIntervalMs);
    } catch (err) {
      const failed = state.fetcher;
      state.fetcher = undefined;
      await failed?.close().catch(() => undefined);
      if (err instanceof LeaseLostError) {
        log.warn('the source has another owner now: this fetcher stops');
        state.stopped = true;
        tell(parent, { type: 'stopped', source: source.id });
        return state;
      }
      state.failures += 1;
      const backoff = Math.min(30_000, 100 * 2 ** (state.failures - 1));
      log.error(
        { err, failures: state.failures, backoffMs: backoff },
        'fetching failed; restarting from the checkpoint',
      );
      schedule(state, self, backoff);
    }
    return state;
  };
  const ref = spawnActor(
    parent,
    actorName('fetcher-', source.id),
    async (state: FetcherState, msg: FetcherMsg, ctx): Promise<FetcherState> => {
      switch (msg.type) {
        case 'poll':
          return poll(state, ctx.self);
        case 'stop':
          state.stopped = true;
          if (state.timer !== undefined) clearTimeout(state.timer);
          await state.fetcher?.close().catch(() => undefined);
          state.fetcher = undefined;
          msg.done();
          return state;
      }
    },
    {
      initialState: { fetcher: undefined, failures: 0, timer: undefined, stopped: false },
      onCrash: (_msg: unknown, err: unknown, ctx: SupervisionCtx) => {
        log.error({ err, actor: ctx.path.toString() }, 'fetcher actor crashed; releasing the source');
        tell(parent, { type: 'stopped', source: source.id });
        return ctx.stop;
      },
    },
  );
  tell(ref, { type: 'poll' });
  return ref;
}

interface Held {
  readonly lease: SourceLease;
  readonly ref: Ref<FetcherMsg>;
}

function stopFetcher(held: Held): Promise<void> {
  return new Promise<void>((resolve) => {
    tell(held.ref, { type: 'stop', done: resolve });
  }).then(() => {
    stopActor(held.ref);
  });
}

function spawnLogs(system: ActorSystem, deps: LogsDeps): Ref<LogsMsg> {
  const log = deps.logger;
  const changed = (held: Map<string, Held>): void => deps.onChange?.([...held.keys()].sort());
  return spawnActor(
    system,
    'logs',
    async (held: Map<string, Held>, msg: LogsMsg, ctx): Promise<Map<string, Held>> => {
      switch (msg.type) {
        case 'tick': {
          let moved = false;
          for (const [id, h] of [...held]) {
            if (await deps.store.renew(h.lease, deps.leaseMs)) continue;
            log.warn({ source: id }, 'lease of the log source lapsed: another node may have it now');
            held.delete(id);
            moved = true;
            await stopFetcher(h);
          }
          for (const source of deps.sources) {
            if (held.has(source.id)) continue;
            const lease = await deps.store.acquire(source.id, deps.nodeId, deps.leaseMs);
            if (lease === undefined) continue;
            log.info({ source: source.id }, 'took the log source');
            held.set(source.id, { lease, ref: spawnFetcher(ctx.self, source, lease, deps) });
            moved = true;
          }
          if (moved) changed(held);
          return held;
        }
        case 'stopped': {
          const h = held.get(msg.source);
          if (h === undefined) return held;
          held.delete(msg.source);
          stopActor(h.ref);
          await deps.store.release(h.lease).catch(() => undefined);
          changed(held);
          return held;
        }
        case 'release':
          for (const [id, h] of [...held]) {
            held.delete(id);
            await stopFetcher(h);
            await deps.store.release(h.lease).catch((err: unknown) => {
              log.warn({ err, source: id }, 'releasing the lease failed; it lapses by itself');
            });
          }
          changed(held);
          msg.done();
          return held;
        case 'held':
          msg.reply([...held.keys()].sort());
          return held;
      }
    },
    {
      initialState: new Map<string, Held>(),
      onCrash: (_msg: unknown, err: unknown, ctx: SupervisionCtx) => {
        log.error({ err }, 'log supervisor tick failed; the next tick tries again');
        return ctx.resume;
      },
    },
  );
}

/**
 * Runs the log fetchers of a node: one supervisor actor taking and keeping leases, a fetcher actor
 * per source held. `stop()` (drain) stops every fetcher after its poll in progress and releases the
 * leases, so other nodes take the sources over at once rather than after the lease.
 */
export class LogFetchers {
  private readonly actor: Ref<LogsMsg>;
  private readonly timer: NodeJS.Timeout;
  private stopping: Promise<void> | undefined;

  constructor(system: ActorSystem, deps: LogsDeps) {
    this.actor = spawnLogs(system, deps);
    tell(this.actor, { type: 'tick' });
    this.timer = setInterval(
      () => {
        tell(this.actor, { type: 'tick' });
      },
      Math.max(100, Math.floor(deps.leaseMs / 3)),
    );
  }

  /** The sources this node fetches now. */
  held(): Promise<readonly string[]> {
    return new Promise((resolve) => {
      tell(this.actor, { type: 'held', reply: resolve });
    });
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      clearInterval(this.timer);
      await new Promise<void>((resolve) => {
        tell(this.actor, { type: 'release', done: resolve });
      });
      stopActor(this.actor);
    })();
    return this.stopping;
  }
}
