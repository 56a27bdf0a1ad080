import { describe, expect, it } from 'vitest';
import { logSoak } from '../support/log-soak.js';

/**
 * The log soak, short (a couple of minutes; `npm run soak` runs it as long as asked): two sources
 * appended over hundreds of polls, one rotating by rename and one by copy-truncate, a finished file
 * with a past date in its name, two nodes sharing them, two SIGKILLs. Per source, minute and level the
 * engine's windows equal the counts grep takes from the files; every ERROR-heavy minute has exactly
 * one firing alert carrying its ERROR lines.
 */
describe('log soak', () => {
  it(
    'counts what the files hold, per minute and level, through rotations and two SIGKILLs',
    { timeout: 420_000 },
    async () => {
      const result = await logSoak({
        durationMs: 75_000,
        seed: 14,
        killsAt: [0.3, 0.65],
        rate: 20,
        say: (line) => process.stderr.write(`${line}\n`),
      });
      expect(result.problems).toEqual([]);
      expect(result.kills).toBe(2);
      expect(result.rotations).toBeGreaterThanOrEqual(6);
      expect(result.lines).toBeGreaterThan(2_500);
      expect(result.heavyMinutes).toBeGreaterThan(2);
    },
  );
});
