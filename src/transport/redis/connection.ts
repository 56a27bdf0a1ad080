import { Redis, type RedisOptions } from 'ioredis';
import type { Credentials, TlsFiles } from '../../config/load.js';
import { clientTlsOptions } from '../tls.js';

/** Where Redis is and how to log in: URL, ACL user and password (from the environment), TLS. */
export interface RedisConnection extends Credentials {
  readonly url: string;
  readonly tls?: TlsFiles | undefined;
}

/** One place that turns the config's Redis settings into a client, for every Redis user in Vigil. */
export function connectRedis(c: RedisConnection, options: RedisOptions): Redis {
  return new Redis(c.url, {
    ...options,
    ...(c.username === undefined ? {} : { username: c.username }),
    ...(c.password === undefined ? {} : { password: c.password }),
    ...(c.tls === undefined ? {} : { tls: clientTlsOptions(c.tls) }),
  });
}
