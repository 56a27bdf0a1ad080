import type { ConnectionOptions } from 'node:tls';
import type { IClientOptions } from 'mqtt';
import type { VigilConfig } from '../../config/load.js';
import { clientTlsOptions } from '../tls.js';

/** The TLS fields MQTT.js takes, from Node's TLS options. */
function mqttTls(t: ConnectionOptions): IClientOptions {
  const out: IClientOptions = { rejectUnauthorized: t.rejectUnauthorized !== false };
  if (t.ca !== undefined) out.ca = t.ca as Buffer;
  if (t.cert !== undefined) out.cert = t.cert as Buffer;
  if (t.key !== undefined) out.key = t.key as Buffer;
  return out;
}

/** Credentials and TLS for every MQTT client of Vigil (the bridge, the alert sink). */
export function mqttClientOptions(m: VigilConfig['mqtt']): IClientOptions {
  return {
    ...(m.username === undefined ? {} : { username: m.username }),
    ...(m.password === undefined ? {} : { password: m.password }),
    ...(m.tls === undefined ? {} : mqttTls(clientTlsOptions(m.tls))),
  };
}
