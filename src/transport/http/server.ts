import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { TLSSocket } from 'node:tls';
import { ERROR_CODES, toVigilError, VigilError } from '../../core/errors.js';
import type { Logger } from '../../obs/logger.js';
import type { TokenAuthority } from '../auth.js';
import type { ServerTls } from '../tls.js';

/** What a handler answers: JSON, or text of a given type. A handler that streams answers nothing. */
export type Reply =
  | { readonly status: number; readonly json: unknown }
  | {
      readonly status: number;
      readonly text: string | Buffer;
      readonly contentType: string;
      readonly headers?: Readonly<Record<string, string>>;
    };

export interface RouteContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  /** Named groups of the route's pattern. */
  readonly params: Readonly<Record<string, string>>;
  /** The request body as text; undefined when it is over the limit (the handler answers 413). */
  readonly body: () => Promise<string | undefined>;
  /** The limit on a body (http.maxBodyBytes), for the handler's 413. */
  readonly maxBodyBytes: number;
}

export interface Route {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** An exact path, or a pattern with named groups (`^/api/rules/(?<id>[^/]+)$`). */
  readonly path: string | RegExp;
  /**
   * `public` (no token), `probe` (no token, and no client certificate either: an orchestrator's probe
   * has none), or the name of the endpoint in the role table (src/transport/grpc/auth.ts).
   */
  readonly access: string;
  readonly handle: (ctx: RouteContext) => Promise<Reply | undefined>;
}

export interface HttpServerOptions {
  readonly listen: string;
  readonly tokens: TokenAuthority;
  /**
   * The routes served from the start. With `starting`, the rest come with `serve` once the node is
   * up: until then any other path answers 503 (the probes answer from the first moment).
   */
  readonly routes: readonly Route[];
  readonly starting?: boolean;
  readonly logger: Logger;
  readonly limits: HttpLimits;
  /** HTTPS (config `http.tls`); with `clientCa`, every route but the probes needs a client certificate. */
  readonly tls?: ServerTls | undefined;
}

/** Config `http` (docs/config.md, "Limits"). */
export interface HttpLimits {
  /** A request body over this gets 413 (read to its end first, so the client sees the answer). */
  readonly maxBodyBytes: number;
  /** Headers must arrive within this, the whole request within requestTimeoutMs: else 408, closed. */
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** An idle kept-alive connection is closed after this. */
  readonly keepAliveTimeoutMs: number;
  /** Connections at once; more are closed as they come. */
  readonly maxConnections: number;
}

export interface RunningHttpServer {
  readonly port: number;
  /** Adds the routes of a node that is up (see HttpServerOptions.starting). */
  serve(routes: readonly Route[]): void;
  stop(): Promise<void>;
}

/** The reason of a 413. */
export function bodyTooLarge(maxBodyBytes: number): string {
  return `the body is over ${maxBodyBytes} bytes (http.maxBodyBytes)`;
}

export function json(statusCode: number, body: unknown): Reply {
  return { status: statusCode, json: body };
}

function send(res: ServerResponse, reply: Reply): void {
  if ('json' in reply) {
    const text = JSON.stringify(reply.json);
    res.writeHead(reply.status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
    return;
  }
  res.writeHead(reply.status, {
    'content-type': reply.contentType,
    'content-length': Buffer.byteLength(reply.text),
    ...reply.headers,
  });
  res.end(reply.text);
}

/**
 * The body as text, or undefined when it is over `max` bytes. An oversized body is still read to its
 * end (and dropped): answering while the client is still sending would reset the connection before it
 * reads the 413. A client sending forever is cut by the server's request timeout.
 */
function readBody(req: IncomingMessage, max: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= max) chunks.push(c);
      else chunks.length = 0;
    });
    req.on('end', () => {
      resolve(size > max ? undefined : Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

function match(route: Route, path: string): Record<string, string> | undefined {
  if (typeof route.path === 'string') return route.path === path ? {} : undefined;
  const m = route.path.exec(path);
  return m === null ? undefined : { ...m.groups };
}

/** The routes a server answers, and whether more are coming (the node is starting). */
interface RouteTable {
  routes: readonly Route[];
  starting: boolean;
}

async function dispatch(
  table: RouteTable,
  o: HttpServerOptions,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const candidates = table.routes.flatMap((r) => {
    const params = match(r, url.pathname);
    return params === undefined ? [] : [{ route: r, params }];
  });
  if (candidates.length === 0 && table.starting) {
    send(res, {
      status: 503,
      text: JSON.stringify({ errors: ['the node is starting; try again shortly'] }),
      contentType: 'application/json',
      headers: { 'retry-after': '1' },
    });
    return;
  }
  if (candidates.length === 0) {
    send(res, json(404, { errors: [`no such endpoint: ${url.pathname}`] }));
    return;
  }
  const found = candidates.find((c) => c.route.method === req.method);
  if (found === undefined) {
    send(
      res,
      json(405, { errors: [`use ${[...new Set(candidates.map((c) => c.route.method))].join(' or ')}`] }),
    );
    return;
  }
  if (o.tls?.clientCa !== undefined && found.route.access !== 'probe') {
    const peer = req.socket instanceof TLSSocket ? req.socket : undefined;
    if (peer?.authorized !== true) {
      // Node leaves it unset when no certificate was presented at all.
      const error: Error | undefined = peer?.authorizationError;
      const why = error?.message ?? 'none was presented';
      send(
        res,
        json(401, { errors: [`a client certificate signed by http.tls.clientCa is required (${why})`] }),
      );
      return;
    }
  }
  if (found.route.access !== 'public' && found.route.access !== 'probe') {
    const verdict = o.tokens.authorize(found.route.access, req.headers.authorization);
    if (!verdict.ok) {
      send(res, json(ERROR_CODES[verdict.reason].http, { errors: [verdict.details] }));
      return;
    }
  }
  const reply = await found.route.handle({
    req,
    res,
    url,
    params: found.params,
    body: () => readBody(req, o.limits.maxBodyBytes),
    maxBodyBytes: o.limits.maxBodyBytes,
  });
  if (reply !== undefined) send(res, reply);
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host.startsWith('127.') || host === '::1' || host === '[::1]';
}

/**
 * The HTTP server of a node (`http.listen`): a route table over node:http, or node:https with
 * `http.tls`. Each route names what it needs: `public`, `probe`, or an endpoint of the role table shared with gRPC, checked against the bearer
 * token before the handler runs (401 without one, 403 with a role too low). Unknown paths get 404,
 * known paths with another method 405, and a handler that fails answers its error's HTTP status
 * (core/errors.ts ERROR_CODES) with the reason.
 */
export async function startHttpServer(o: HttpServerOptions): Promise<RunningHttpServer> {
  const table: RouteTable = { routes: o.routes, starting: o.starting === true };
  const l = o.limits;
  const options = {
    headersTimeout: l.headersTimeoutMs,
    requestTimeout: l.requestTimeoutMs,
    keepAliveTimeout: l.keepAliveTimeoutMs,
    // How often Node checks the two timeouts above (30 s by default: a slow client would get 30 s more).
    connectionsCheckingInterval: Math.min(1_000, l.headersTimeoutMs),
  };
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    dispatch(table, o, req, res).catch((err: unknown) => {
      o.logger.warn({ err, url: req.url }, 'HTTP request failed');
      const e = toVigilError(err);
      if (!res.headersSent) send(res, json(e.httpStatus, { errors: [`cannot answer now: ${e.message}`] }));
      else res.end();
    });
  };
  const tls = o.tls;
  // With a client CA, a client certificate is asked for but not required by the handshake: the probes
  // answer without one, every other route refuses (dispatch) with a reason a client can read.
  const server: Server =
    tls === undefined
      ? createServer(options, handle)
      : createHttpsServer(
          {
            ...options,
            cert: tls.cert,
            key: tls.key,
            ...(tls.clientCa === undefined
              ? {}
              : { ca: tls.clientCa, requestCert: true, rejectUnauthorized: false }),
          },
          handle,
        );
  server.maxConnections = l.maxConnections;
  const cut = o.listen.lastIndexOf(':');
  const [host, port] = [o.listen.slice(0, cut), Number(o.listen.slice(cut + 1))];
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => {
      reject(
        new VigilError(`cannot listen on ${o.listen}: ${err.message}`, { code: 'HTTP_BIND', cause: err }),
      );
    });
    server.listen(port, host, resolve);
  });
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  if (tls === undefined && !isLoopback(host))
    o.logger.warn(
      { address: o.listen },
      'HTTP without http.tls on an address beyond this machine: bearer tokens cross the network in clear text',
    );
  o.logger.info(
    {
      address: o.listen,
      port: bound,
      tls: tls === undefined ? 'none' : tls.clientCa === undefined ? 'server' : 'mutual',
    },
    'HTTP server listening',
  );
  return {
    port: bound,
    serve: (more) => {
      table.routes = [...table.routes, ...more];
      table.starting = false;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        // Event streams never end by themselves.
        server.closeAllConnections();
      }),
  };
}
