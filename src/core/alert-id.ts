import { createHash } from 'node:crypto';
import type { AlertState } from './outputs.js';

/**
 * Deterministic alert id: the same rule, sensor, episode start and state always give the same id, so a
 * replay after a crash reproduces ids and every sink can drop what it has already seen.
 */
export function alertId(ruleId: string, sensorId: string, startedAt: number, state: AlertState): string {
  return createHash('sha256')
    .update(`${ruleId}\u0000${sensorId}\u0000${startedAt}\u0000${state}`)
    .digest('hex')
    .slice(0, 32);
}
