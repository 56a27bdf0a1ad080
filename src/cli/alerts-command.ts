import type { Command } from 'commander';
import { status, type ServiceError } from '@grpc/grpc-js';
import { ALERT_ID } from '../core/alert-feed.js';
import type { Alert } from '../core/outputs.js';
import { VigilError } from '../core/errors.js';
import type { Alert__Output } from '../gen/vigil/v1/Alert.js';
import type { SubscribeRequest } from '../gen/vigil/v1/SubscribeRequest.js';
import { connectionOptions, parseTime, withClients, type ConnectionOptions } from './cluster-commands.js';
import { fromServiceError } from './grpc-client.js';
import { formatAlert, writeLine } from './output.js';

/**
 * `--filter sensor=st-1,sensor=st-2,rule=hot,severity=critical,label.city=lyon`: a key given twice
 * matches either value; labels must all match.
 */
export function parseAlertFilter(spec: string | undefined): NonNullable<SubscribeRequest['filter']> {
  const filter = {
    sensorIds: [] as string[],
    ruleIds: [] as string[],
    severities: [] as string[],
    labels: {} as Record<string, string>,
  };
  if (spec === undefined || spec.trim() === '') return filter;
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (eq <= 0 || value === '')
      throw new VigilError(`--filter: "${part}" is not key=value`, { code: 'USAGE' });
    if (key === 'sensor') filter.sensorIds.push(value);
    else if (key === 'rule') filter.ruleIds.push(value);
    else if (key === 'severity') filter.severities.push(value);
    else if (key.startsWith('label.') && key.length > 6) filter.labels[key.slice(6)] = value;
    else
      throw new VigilError(`--filter: unknown key "${key}" (use sensor, rule, severity or label.<name>)`, {
        code: 'USAGE',
      });
  }
  return filter;
}

/** `--since <alert id>` resumes after that alert; `--since <ISO time | epoch ms>` starts at that event time. */
export function parseSince(since: string | undefined): Pick<SubscribeRequest, 'sinceId' | 'sinceTs'> {
  if (since === undefined) return {};
  if (ALERT_ID.test(since)) return { sinceId: since };
  return { sinceTs: String(parseTime(since, 'since')) };
}

const fromMessage = ({ report, ...a }: Alert__Output): Alert => ({
  ...a,
  state: a.state as Alert['state'],
  severity: a.severity as Alert['severity'],
  ts: Number(a.ts),
  startedAt: Number(a.startedAt),
  ...(report === null
    ? {}
    : {
        report: {
          window: report.window,
          start: Number(report.start),
          end: Number(report.end),
          counts: Object.fromEntries(Object.entries(report.counts).map(([k, v]) => [k, Number(v)])),
          lines: report.lines,
          linesOmitted: Number(report.linesOmitted),
        },
      }),
});

export function addAlertsCommand(cli: Command): void {
  connectionOptions(cli.command('alerts'))
    .description(
      "follow the whole cluster's alerts from any node; resume with --since <last id> to miss none and get none twice (token: VIGIL_TOKEN)",
    )
    .option('--filter <spec>', 'e.g. sensor=st-1,rule=hot,severity=critical,label.city=lyon')
    .option('--since <id|time>', 'an alert id (resume after it), or an ISO time / epoch ms (event time)')
    .option('--count <n>', 'stop after n alerts', (v) => {
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 1)
        throw new VigilError(`--count "${v}" is not a positive integer`, { code: 'USAGE' });
      return n;
    })
    .action(async (o: ConnectionOptions & { filter?: string; since?: string; count?: number }) => {
      const request: SubscribeRequest = { filter: parseAlertFilter(o.filter), ...parseSince(o.since) };
      await withClients(o, ({ alerts, metadata }) => {
        const stream = alerts.subscribe(request, metadata);
        let received = 0;
        const stop = (): void => {
          stream.cancel();
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        return new Promise<void>((resolve, reject) => {
          stream.on('data', (a: Alert__Output) => {
            writeLine(o.json === true ? JSON.stringify(fromMessage(a)) : formatAlert(fromMessage(a)));
            if (o.count !== undefined && ++received >= o.count) stream.cancel();
          });
          stream.on('error', (err: ServiceError) => {
            if (err.code === status.CANCELLED) resolve();
            else reject(fromServiceError(err));
          });
          stream.on('end', () => {
            resolve();
          });
        }).finally(() => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        });
      });
    });
}
