import type { Alert, WindowResult } from '../core/outputs.js';

/** Human-readable one-line forms of what Vigil produces (the CLI's default output). */
export function formatAlert(a: Alert): string {
  const when = new Date(a.ts).toISOString();
  return `${when}  ${a.state.toUpperCase().padEnd(8)} ${a.severity.padEnd(8)} ${a.ruleId}  ${a.sensorId}  ${a.message}  [${a.id}]`;
}

const SHOWN = ['count', 'min', 'max', 'mean', 'p95'] as const;

export function formatWindowResult(w: WindowResult): string {
  const fmt = (n: number): string => (Number.isInteger(n) ? String(n) : n.toFixed(3));
  const values = SHOWN.flatMap((k) => {
    const v = w[k];
    return v === undefined ? [] : [`${k}=${fmt(v)}`];
  });
  return `${new Date(w.start).toISOString()}  ${w.window}  ${w.sensorId}  ${w.metric}  ${values.join(' ')}`;
}

export function writeLine(line: string): void {
  process.stdout.write(line + '\n');
}
