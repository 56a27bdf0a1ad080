import { type Command, InvalidArgumentError } from 'commander';
import { parseDuration } from '../core/duration.js';
import { IncidentEffects, planIncidents, type Incident } from '../sim/incidents.js';
import { describeIncident } from '../sim/score.js';
import { CityStream } from '../sim/stream.js';

export interface SimulateOptions {
  sensors: number;
  rate: number;
  duration?: number;
  count?: number;
  seed: number;
  /** A new incident every this many ms of event time; 0: none. */
  incidents: number;
  duplicates: number;
  outOfOrder: number;
  late: number;
  malformed: number;
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('must be a whole number above 0');
  return n;
}

export function ratio(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('must be a number from 0 to 1');
  return n;
}

export function durationOption(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new InvalidArgumentError('must be a duration such as 30s, 5m or 1h');
  return ms;
}

export function simulationOptions(cmd: Command, defaults: { sensors: number; rate: number }): Command {
  return cmd
    .option('--sensors <n>', 'number of stations', positiveInt, defaults.sensors)
    .option('--rate <n>', 'readings per second', positiveInt, defaults.rate)
    .option('--duration <d>', 'how long to run (e.g. 30s); default until Ctrl-C', durationOption)
    .option('--count <n>', 'stop after this many readings', positiveInt)
    .option('--seed <n>', 'random seed (same seed, same stream)', positiveInt, 1)
    .option(
      '--incidents <every>',
      'start an incident (heat episode, stuck, noisy or drifting sensor, silent station) this often; 0: none',
      durationOption,
      30_000,
    )
    .option('--duplicates <ratio>', 'share of repeated readings', ratio, 0)
    .option('--out-of-order <ratio>', 'share of readings moved back by up to 1.5 s', ratio, 0)
    .option('--late <ratio>', 'share of readings moved back by 10 min (late)', ratio, 0)
    .option('--malformed <ratio>', 'share of malformed payloads', ratio, 0);
}

export interface Simulation {
  readonly stream: CityStream;
  /** The incidents planned (the ground truth), empty with --incidents 0. */
  readonly incidents: readonly Incident[];
  /** The next record; tells `announce` of each incident as the stream's clock reaches its start. */
  next(): ReturnType<CityStream['next']>;
}

/** The seeded city stream of the options, starting now, and the incidents it plays. */
export function simulation(opts: SimulateOptions, announce: (line: string) => void): Simulation {
  const startTs = Date.now();
  const incidents =
    opts.incidents > 0
      ? planIncidents({
          stations: opts.sensors,
          seed: opts.seed,
          startTs,
          everyMs: opts.incidents,
          firstAfterMs: Math.min(10_000, opts.incidents),
        })
      : [];
  const stream = new CityStream({
    stations: opts.sensors,
    seed: opts.seed,
    rate: opts.rate,
    startTs,
    duplicateRatio: opts.duplicates,
    outOfOrderRatio: opts.outOfOrder,
    lateRatio: opts.late,
    malformedRatio: opts.malformed,
    ...(incidents.length === 0 ? {} : { incidents: new IncidentEffects(incidents) }),
  });
  let told = 0;
  return {
    stream,
    incidents,
    next() {
      for (let i = incidents[told]; i !== undefined && i.start <= stream.clock; i = incidents[++told])
        announce(`incident ${describeIncident(i)}`);
      return stream.next();
    },
  };
}
