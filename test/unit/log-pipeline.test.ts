import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import type { LogLevel, LogRecord } from '../../src/core/log-record.js';
import type { Alert, WindowResult } from '../../src/core/outputs.js';
import { startEmbedded } from '../../src/node/node.js';
import { silentLogger } from '../../src/obs/logger.js';

/** vigil.logs through the default log pipeline, embedded: counts per level, and ERROR reports. */
describe('the log pipeline', () => {
  const config = buildConfig({
    node: { id: 'logs' },
    log: { level: 'silent' },
    checkpoint: { interval: '100ms', store: 'memory' },
    pipeline: { windows: [{ kind: 'tumbling', size: '10s' }] },
  });
  const T0 = Date.UTC(2026, 10, 23, 15, 0, 0);
  const LEVELS: readonly LogLevel[] = ['INFO', 'INFO', 'DEBUG', 'WARN', 'INFO', 'TRACE'];

  /** Source `billing` has 3 ERROR lines in its second minute and none in the others; `api` has one. */
  function lines(): LogRecord[] {
    const out: LogRecord[] = [];
    for (let i = 0; i < 240; i++) {
      const ts = T0 + i * 1_000;
      const minute = Math.floor(i / 60);
      for (const source of ['billing', 'api']) {
        const error =
          (source === 'billing' && minute === 1 && i % 20 === 5) || (source === 'api' && i === 30);
        const level: LogLevel = error ? 'ERROR' : (LEVELS[i % LEVELS.length] ?? 'INFO');
        const message = `${source} line ${i}`;
        out.push({ source, ts, level, message, line: `15:00:00.000 [main] ${level} app - ${message}` });
      }
    }
    return out;
  }

  it('counts lines per level in 60 s windows and reports a window with more than one ERROR', async () => {
    const node = await startEmbedded(config, silentLogger);
    const input = lines();
    node.records.append([
      {
        topic: config.kafka.topics.logs,
        messages: input.map((r) => ({ key: r.source, value: JSON.stringify(r) })),
      },
    ]);
    const all = (topic: string) => node.records.partitions(topic).flat();
    const deadline = Date.now() + 20_000;
    // Three whole minutes close per source (the fourth stays open: nothing later has come).
    while (all(config.kafka.topics.aggregates).length < 2 * 3 * 4 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    await node.stop();

    const windows = all(config.kafka.topics.aggregates).map(
      (r) => JSON.parse(r.value?.toString() ?? '') as WindowResult,
    );
    const expected = new Map<string, number>();
    for (const r of input) {
      const start = T0 + Math.floor((r.ts - T0) / 60_000) * 60_000;
      if (start >= T0 + 180_000) continue;
      const key = `${r.source}/tumbling-1m/${r.level}/${start}`;
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    expect(new Map(windows.map((w) => [w.id, w.count]))).toEqual(expected);
    const errors = windows.find((w) => w.id === `billing/tumbling-1m/ERROR/${T0 + 60_000}`);
    expect(errors?.exemplars).toEqual(
      [65, 85, 105].map((i) => `15:00:00.000 [main] ERROR app - billing line ${i}`),
    );

    const alerts = all(config.kafka.topics.alerts).map((r) => JSON.parse(r.value?.toString() ?? '') as Alert);
    // api's single ERROR is not "more than 1"; billing fires in minute 1 and resolves in minute 2.
    expect(alerts.map((a) => [a.sensorId, a.ruleId, a.state, a.startedAt])).toEqual([
      ['billing', 'log-errors', 'firing', T0 + 60_000],
      ['billing', 'log-errors', 'resolved', T0 + 60_000],
    ]);
    expect(alerts[0]?.report).toEqual({
      window: 'tumbling-1m',
      start: T0 + 60_000,
      end: T0 + 120_000,
      counts: Object.fromEntries(
        [...expected]
          .filter(([k]) => k.startsWith('billing/') && k.endsWith(`/${T0 + 60_000}`))
          .map(([k, n]): [string, number] => [k.split('/')[2] ?? '', n]),
      ),
      lines: errors?.exemplars,
      linesOmitted: 0,
    });
    // Log sources are sensors of the log pipeline: their minutes are in the rollups too.
    const rollups = await node.store.rollups('billing', 'ERROR', T0, T0 + 180_000);
    expect(rollups.map((r) => [r.minute, r.acc[0]])).toEqual([[T0 + 60_000, 3]]);
  });
});
