import { createHash } from 'node:crypto';
import type { AlertState } from './outputs.js';

/**
 * Deterministic alert id: the same rule, sensor, episode start and state always give the same id, so a
 * replay after a crash reproduces ids and every sink can drop what it has already seen. A further
 * report of an episode still firing (a count rule's next window over its threshold) adds the start of
 * its window.
 */
export function alertId(
  ruleId: string,
  sensorId: string,
  startedAt: number,
  state: AlertState,
  reportOf?: number,
): string {
  const report = reportOf === undefined ? '' : `\u0000report:${reportOf}`;
  return createHash('sha256')
    .update(`${ruleId}\u0000${sensorId}\u0000${startedAt}\u0000${state}${report}`)
    .digest('hex')
    .slice(0, 32);
}
