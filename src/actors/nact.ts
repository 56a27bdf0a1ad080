/**
 * A typed facade over nact. nact's own typings infer `{}` and `any` through their generic helpers
 * (its Ref is an empty class), so the rest of Vigil sees only the types below; the casts live here.
 */
import * as nact from 'nact';

declare const accepts: unique symbol;

/** A reference to an actor that accepts messages of type Msg. Opaque: only `tell` and `stopActor` use it. */
export interface Ref<Msg> {
  readonly [accepts]?: (msg: Msg) => void;
}

/** The root of an actor system: a parent for top-level actors, accepting no messages itself. */
export type ActorSystem = Ref<never>;

export interface ActorCtx<Msg> {
  readonly self: Ref<Msg>;
  readonly name: string;
  readonly path: { toString(): string };
}

/** The decisions a supervision policy may return (nact's SupervisionActions). */
export interface SupervisionCtx {
  readonly path: { toString(): string };
  readonly resume: symbol;
  readonly reset: symbol;
  readonly stop: symbol;
  readonly escalate: symbol;
}

export interface ActorOptions<State> {
  readonly initialState: State;
  /** Called when the actor's handler throws; returns what to do. Never left to nact's default. */
  readonly onCrash: (msg: unknown, err: unknown, ctx: SupervisionCtx) => symbol;
}

/** nact's functions as Vigil calls them: untyped at this boundary, typed by the wrappers below. */
const api = nact as unknown as {
  start(): unknown;
  spawn(parent: unknown, f: unknown, name: string, props: unknown): unknown;
  dispatch(ref: unknown, msg: unknown): void;
  stop(ref: unknown): void;
};

/**
 * Messages told to each actor and not yet handled, and the most seen in one mailbox since it was last
 * taken (for the `vigil_mailbox_largest_messages` gauge). Two map updates per message, no allocation; the map
 * is weak, so stopped actors' entries go with them.
 */
const queued = new WeakMap<object, number>();
let largestMailbox = 0;

/** The longest mailbox since the previous call (then starts over). */
export function takeLargestMailbox(): number {
  const n = largestMailbox;
  largestMailbox = 0;
  return n;
}

export function startSystem(): ActorSystem {
  return api.start() as ActorSystem;
}

export function spawnActor<State, Msg>(
  parent: Ref<never>,
  name: string,
  handler: (state: State, msg: Msg, ctx: ActorCtx<Msg>) => State | Promise<State>,
  options: ActorOptions<State>,
): Ref<Msg> {
  const counted = (state: State, msg: Msg, ctx: ActorCtx<Msg>): State | Promise<State> => {
    queued.set(ctx.self, (queued.get(ctx.self) ?? 1) - 1);
    return handler(state, msg, ctx);
  };
  return api.spawn(parent, counted, name, options) as Ref<Msg>;
}

export function tell<Msg>(ref: Ref<Msg>, msg: Msg): void {
  const n = (queued.get(ref) ?? 0) + 1;
  queued.set(ref, n);
  if (n > largestMailbox) largestMailbox = n;
  api.dispatch(ref, msg);
}

export function stopActor(ref: Ref<never>): void {
  api.stop(ref);
}
