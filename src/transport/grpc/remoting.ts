import {
  Metadata,
  status,
  type ChannelCredentials,
  type ClientDuplexStream,
  type Server,
  type ServerDuplexStream,
  type ServiceError,
} from '@grpc/grpc-js';
import { toVigilError, VigilError } from '../../core/errors.js';
import type { Envelope, Envelope__Output } from '../../gen/vigil/v1/Envelope.js';
import type { EnvelopeBatch, EnvelopeBatch__Output } from '../../gen/vigil/v1/EnvelopeBatch.js';
import type { Logger } from '../../obs/logger.js';
import type { VigilGrpc } from './proto.js';
import { GrpcCallError, statusName, statusOf } from './status.js';

/**
 * Node-to-node actor messages over ONE bidirectional gRPC stream per pair of nodes (Remoting/Connect).
 * The dialling node sends requests; the other answers on the same stream, matched by correlation id.
 * Both directions carry batches of envelopes and honour write() backpressure.
 *
 * A request handler gets the envelope's target (an actor path), type and JSON payload, and returns
 * the JSON reply or throws; a thrown error travels back with its gRPC status (statusOf) and message.
 */
export type RemoteHandler = (target: string, type: string, payload: unknown) => Promise<unknown>;

/** Envelopes per batch on the wire. */
const MAX_BATCH = 256;
/** Envelopes waiting for the stream before new requests are refused (retriable). */
const MAX_QUEUED = 10_000;
const REPLY = 'reply';

/**
 * Keepalive: a peer that stops answering pings (SIGSTOP, cable cut) fails the stream within about
 * keepalive_time + keepalive_timeout, so pending requests fail fast and the link reconnects.
 */
export const REMOTING_CHANNEL_OPTIONS = {
  'grpc.keepalive_time_ms': 2_000,
  'grpc.keepalive_timeout_ms': 2_000,
  'grpc.keepalive_permit_without_calls': 1,
  // grpc-js backs off reconnecting up to 120 s and fails calls meanwhile: a peer that was down for a
  // few seconds (a restart) would stay unreachable long after it is back.
  'grpc.initial_reconnect_backoff_ms': 250,
  'grpc.max_reconnect_backoff_ms': 2_000,
} as const;

interface Reply {
  readonly ok: boolean;
  readonly value?: unknown;
  readonly code?: number;
  readonly message?: string;
}

const encode = (value: unknown): Buffer => Buffer.from(JSON.stringify(value ?? null), 'utf8');
const decode = (bytes: Buffer | Uint8Array): unknown =>
  JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;

/**
 * Envelopes waiting for one stream. They leave in batches (everything queued in one turn of the
 * event loop, up to MAX_BATCH per batch); when write() says the stream is full, flushing waits for
 * 'drain' and the queue absorbs the difference, up to MAX_QUEUED.
 */
class Outbox {
  /** What went out, for metrics and tests. */
  readonly sent = { batches: 0, envelopes: 0 };
  private queue: Envelope[] = [];
  private scheduled = false;
  private blocked = false;
  private stream: { write(b: EnvelopeBatch): boolean } | undefined;

  constructor(private readonly fromNode: string) {}

  attach(stream: { write(b: EnvelopeBatch): boolean; on(e: 'drain', f: () => void): unknown }): void {
    this.stream = stream;
    this.blocked = false;
    stream.on('drain', () => {
      this.blocked = false;
      this.flush();
    });
    this.schedule();
  }

  detach(): void {
    this.stream = undefined;
  }

  get size(): number {
    return this.queue.length;
  }

  push(e: Envelope): void {
    if (this.queue.length >= MAX_QUEUED)
      throw new VigilError(`remoting queue full (${MAX_QUEUED} envelopes): the peer is not keeping up`, {
        code: 'REMOTING_BACKPRESSURE',
        retriable: true,
      });
    this.queue.push(e);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /** Writes what is queued now (write() buffers past the high-water mark; ending comes next). */
  flushAll(): void {
    this.blocked = false;
    this.flush();
  }

  private flush(): void {
    while (this.stream !== undefined && !this.blocked && this.queue.length > 0) {
      const envelopes = this.queue.length <= MAX_BATCH ? this.queue : this.queue.slice(0, MAX_BATCH);
      this.queue = this.queue.length <= MAX_BATCH ? [] : this.queue.slice(MAX_BATCH);
      this.sent.batches++;
      this.sent.envelopes += envelopes.length;
      if (!this.stream.write({ fromNode: this.fromNode, envelopes })) this.blocked = true;
    }
  }
}

type Client = InstanceType<VigilGrpc['vigil']['v1']['Remoting']>;
type Pending = {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
};

export interface RemoteLinkOptions {
  readonly nodeId: string;
  readonly address: string;
  readonly credentials: ChannelCredentials;
  /** This node's own bearer token (role `node`). */
  readonly token: string;
  readonly logger: Logger;
  readonly requestTimeoutMs?: number;
}

/**
 * The dialling side of the link to one peer.
 *
 * State machine:
 *   idle        no stream. -> connecting on the first request.
 *   connecting  Connect called; requests queue in the outbox. -> open at once (gRPC streams are
 *               lazy: a dead peer shows up as an error on the stream).
 *   open        batches flow both ways. -> backoff on a stream error or end: requests in flight
 *               fail with a retriable UNAVAILABLE error (they may or may not have run there).
 *   backoff     waits 100 ms, doubling to 5 s, with jitter. -> connecting if requests are queued,
 *               otherwise idle (a peer that left the cluster is not redialled forever).
 *   closed      close() was called; requests are refused. Final.
 */
export class RemoteLink {
  private state: 'idle' | 'connecting' | 'open' | 'backoff' | 'closed' = 'idle';
  private readonly client: Client;
  private stream: ClientDuplexStream<EnvelopeBatch, EnvelopeBatch__Output> | undefined;
  private readonly outbox: Outbox;
  private readonly pending = new Map<string, Pending>();
  private nextId = 0;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    grpc: VigilGrpc,
    private readonly options: RemoteLinkOptions,
  ) {
    // Peers are addressed by IP; their certificates name localhost as well (cluster/certs.sh).
    this.client = new grpc.vigil.v1.Remoting(options.address, options.credentials, {
      ...REMOTING_CHANNEL_OPTIONS,
      'grpc.ssl_target_name_override': 'localhost',
    });
    this.outbox = new Outbox(options.nodeId);
  }

  get linkState(): string {
    return this.state;
  }

  /** Batches and envelopes sent so far. */
  get sent(): { readonly batches: number; readonly envelopes: number } {
    return this.outbox.sent;
  }

  /** Sends one message to `target` on the peer and resolves with its reply. */
  ask(
    target: string,
    type: string,
    payload: unknown,
    timeoutMs = this.options.requestTimeoutMs ?? 5_000,
  ): Promise<unknown> {
    if (this.state === 'closed')
      return Promise.reject(new VigilError('remote link closed', { code: 'REMOTING_CLOSED' }));
    const correlationId = String(++this.nextId);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(correlationId);
        reject(
          new GrpcCallError(`${this.options.address} did not answer ${type} within ${timeoutMs} ms`, {
            code: 'REMOTING_TIMEOUT',
          }),
        );
      }, timeoutMs);
      this.pending.set(correlationId, { resolve, reject, timer });
      try {
        this.outbox.push({
          target,
          type,
          sender: this.options.nodeId,
          correlationId,
          payload: encode(payload),
        });
      } catch (err) {
        clearTimeout(timer);
        this.pending.delete(correlationId);
        reject(toVigilError(err));
        return;
      }
      if (this.state === 'idle') this.connect();
    });
  }

  private connect(): void {
    this.state = 'connecting';
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${this.options.token}`);
    const stream = this.client.connect(metadata);
    this.stream = stream;
    stream.on('data', (batch: EnvelopeBatch__Output) => {
      this.failures = 0;
      for (const e of batch.envelopes) this.settle(e);
    });
    const lost = (reason: string): void => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      this.outbox.detach();
      this.failAll(reason);
      if (this.state !== 'closed') this.backoff();
    };
    stream.on('error', (err: ServiceError) => {
      lost(`${status[err.code]}: ${err.details}`);
    });
    stream.on('end', () => {
      stream.end(); // half-close our side too, so the peer's shutdown is not kept waiting for it
      lost('the peer ended the stream');
    });
    this.outbox.attach(stream);
    this.state = 'open';
  }

  private settle(e: Envelope__Output): void {
    const p = this.pending.get(e.correlationId);
    if (p === undefined) return; // timed out already
    this.pending.delete(e.correlationId);
    clearTimeout(p.timer);
    let reply: Reply;
    try {
      reply = decode(e.payload) as Reply;
    } catch (err) {
      p.reject(new VigilError(`unreadable reply from ${this.options.address}`, { cause: err }));
      return;
    }
    if (reply.ok) p.resolve(reply.value);
    else
      p.reject(
        new GrpcCallError(reply.message ?? 'remote error', {
          code: 'REMOTE_ERROR',
          grpcStatus: statusName(reply.code ?? status.UNKNOWN),
        }),
      );
  }

  private failAll(reason: string): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(
        new GrpcCallError(`link to ${this.options.address} lost (${reason})`, {
          code: 'REMOTING_UNAVAILABLE',
        }),
      );
    }
  }

  private backoff(): void {
    this.state = 'backoff';
    this.failures++;
    const delay = Math.min(5_000, 100 * 2 ** (this.failures - 1)) * (0.5 + Math.random() / 2);
    this.options.logger.debug({ peer: this.options.address, delay }, 'remote link lost; backing off');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.state !== 'backoff') return;
      if (this.outbox.size > 0) this.connect();
      else this.state = 'idle';
    }, delay);
  }

  close(): void {
    this.state = 'closed';
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.failAll('closed');
    this.stream?.end();
    this.stream = undefined;
    this.client.close();
  }
}

/**
 * The answering side: Remoting/Connect streams from peers. Each request envelope runs through
 * `handler`; its reply goes back on the same stream, batched.
 */
export function addRemotingService(
  server: Server,
  grpc: VigilGrpc,
  nodeId: string,
  handler: RemoteHandler,
  logger: Logger,
): { close(): void } {
  const streams = new Map<ServerDuplexStream<EnvelopeBatch__Output, EnvelopeBatch>, Outbox>();
  server.addService(grpc.vigil.v1.Remoting.service, {
    Connect: (call: ServerDuplexStream<EnvelopeBatch__Output, EnvelopeBatch>) => {
      const outbox = new Outbox(nodeId);
      streams.set(call, outbox);
      outbox.attach(call);
      let open = true;
      const done = (): void => {
        open = false;
        streams.delete(call);
        outbox.detach();
      };
      call.on('data', (batch: EnvelopeBatch__Output) => {
        for (const e of batch.envelopes) {
          const answer = (reply: Reply): void => {
            if (!open) return;
            try {
              outbox.push({
                target: e.sender,
                type: REPLY,
                correlationId: e.correlationId,
                payload: encode(reply),
              });
            } catch (err) {
              logger.warn({ err, peer: batch.fromNode }, 'reply dropped: remoting queue full');
            }
          };
          let payload: unknown;
          try {
            payload = decode(e.payload);
          } catch {
            answer({ ok: false, code: status.INVALID_ARGUMENT, message: `${e.type}: payload is not JSON` });
            continue;
          }
          handler(e.target, e.type, payload).then(
            (value) => {
              answer({ ok: true, value });
            },
            (err: unknown) => {
              const s = statusOf(err);
              answer({ ok: false, code: s.code, message: s.details });
            },
          );
        }
      });
      call.on('end', () => {
        done();
        call.end();
      });
      call.on('error', done);
      call.on('cancelled', done);
    },
  });
  return {
    close: () => {
      // Replies already made (the answer to a DrainNode, say) go out before the stream ends.
      for (const [stream, outbox] of streams) {
        outbox.flushAll();
        stream.end();
      }
      streams.clear();
    },
  };
}
