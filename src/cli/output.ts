import type { Alert, WindowResult } from '../core/outputs.js';

/** Human-readable one-line forms of what Vigil produces (the CLI's default output). */
export function formatAlert(a: Alert): string {
  const when = new Date(a.ts).toISOString();
  return `${when}  ${a.state.toUpperCase().padEnd(8)} ${a.severity.padEnd(8)} ${a.ruleId}  ${a.sensorId}  ${a.message}  [${a.id}]`;
}

export function formatWindowResult(w: WindowResult): string {
  const fmt = (n: number): string => (Number.isInteger(n) ? String(n) : n.toFixed(3));
  return `${new Date(w.start).toISOString()}  ${w.window}  ${w.sensorId}  ${w.metric}  count=${w.count} min=${fmt(w.min)} max=${fmt(w.max)} mean=${fmt(w.mean)}`;
}

export function writeLine(line: string): void {
  process.stdout.write(line + '\n');
}
