import { Redis, type RedisOptions } from 'ioredis';
import type { Credentials, TlsFiles } from '../../config/load.js';
import type { Logger } from '../../obs/logger.js';
import { clientTlsOptions } from '../tls.js';

/** Where Redis is and how to log in: URL, ACL user and password (from the environment), TLS. */
export interface RedisConnection extends Credentials {
  readonly url: string;
  readonly tls?: TlsFiles | undefined;
  /** Where connection errors are told (at most one line per ERROR_LOG_MS); none: not told. */
  readonly logger?: Logger | undefined;
}

/** While Redis is away, one line about it per this long, with how many errors it stands for. */
const ERROR_LOG_MS = 30_000;

/**
 * One place that turns the config's Redis settings into a client, for every Redis user in Vigil.
 *
 * ioredis emits 'error' on every failed reconnect, many times a second while Redis is away, and prints
 * "Unhandled error event" to stderr when nobody listens. The failures that matter reach the callers
 * through their commands (retried or fatal there), so here they are only told: the first at once, then
 * one line per 30 s.
 */
export function connectRedis(c: RedisConnection, options: RedisOptions): Redis {
  const redis = new Redis(c.url, {
    ...options,
    ...(c.username === undefined ? {} : { username: c.username }),
    ...(c.password === undefined ? {} : { password: c.password }),
    ...(c.tls === undefined ? {} : { tls: clientTlsOptions(c.tls) }),
  });
  let lastLogged = 0;
  let unlogged = 0;
  redis.on('error', (err: Error) => {
    const now = Date.now();
    if (now - lastLogged < ERROR_LOG_MS) {
      unlogged++;
      return;
    }
    c.logger?.warn({ err, url: c.url, since: unlogged }, 'Redis connection error');
    lastLogged = now;
    unlogged = 0;
  });
  redis.on('ready', () => {
    if (lastLogged !== 0) c.logger?.info({ url: c.url }, 'Redis connection back');
    lastLogged = 0;
    unlogged = 0;
  });
  return redis;
}
