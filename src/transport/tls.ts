import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { TlsFiles } from '../config/load.js';
import { VigilError } from '../core/errors.js';

/** Reads a PEM file named in the config, or says which one could not be read and why. */
export function readPem(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new VigilError(`cannot read TLS file ${file}: ${(err as Error).message}`, {
      code: 'TLS_FILES',
      cause: err,
    });
  }
}

/** Node's TLS client options from the config's files (Kafka, Redis and MQTT clients all take them). */
export function clientTlsOptions(files: TlsFiles): ConnectionOptions {
  return {
    rejectUnauthorized: files.rejectUnauthorized,
    ...(files.ca === undefined ? {} : { ca: readPem(files.ca) }),
    ...(files.cert === undefined ? {} : { cert: readPem(files.cert) }),
    ...(files.key === undefined ? {} : { key: readPem(files.key) }),
  };
}

/** The PEM files of a TLS server (config `http.tls`). */
export interface ServerTlsFiles {
  readonly cert: string;
  readonly key: string;
  /** Clients must present a certificate signed by this CA. */
  readonly clientCa?: string | undefined;
}

/** The certificates of a TLS server, read at start (a file that cannot be read stops the start). */
export interface ServerTls {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly clientCa?: Buffer;
}

export function readServerTls(files: ServerTlsFiles): ServerTls {
  return {
    cert: readPem(files.cert),
    key: readPem(files.key),
    ...(files.clientCa === undefined ? {} : { clientCa: readPem(files.clientCa) }),
  };
}
