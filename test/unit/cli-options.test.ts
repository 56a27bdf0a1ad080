import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSince } from '../../src/cli/alerts-command.js';
import { parseTime } from '../../src/cli/cluster-commands.js';
import { VigilError } from '../../src/core/errors.js';
import { planMetricsRequest } from '../../src/core/metrics-request.js';

const T = Date.UTC(2026, 10, 23, 15, 12, 0);
const zone = process.env['TZ'];
afterEach(() => {
  if (zone === undefined) delete process.env['TZ'];
  else process.env['TZ'] = zone;
});

describe('CLI times', () => {
  it('reads a time as the HTTP API does: UTC unless an offset is given, whatever the local zone', () => {
    for (const tz of ['UTC', 'America/New_York', 'Asia/Kolkata']) {
      process.env['TZ'] = tz;
      expect(parseTime('2026-11-23 15:12:00', 'from'), tz).toBe(T);
      expect(parseTime('2026-11-23T15:12:00+01:00', 'from'), tz).toBe(T - 3_600_000);
      expect(parseTime(String(T), 'from'), tz).toBe(T);
      expect(parseSince('2026-11-23 15:12:00')).toEqual({ sinceTs: String(T) });
    }
  });

  it('takes exactly the times the metrics API takes, and names the forms for any other', () => {
    const api = (text: string | number): number | undefined => {
      const plan = planMetricsRequest({ 's.t': ['count'], from: text, to: text, bounds: '[from, to]' }, [
        { sensorId: 's', metric: 't' },
      ]);
      return plan.ok ? plan.from : undefined;
    };
    const cli = (text: string): number | undefined => {
      try {
        return parseTime(text, 'from');
      } catch (err) {
        expect(err).toBeInstanceOf(VigilError);
        expect((err as VigilError).code).toBe('USAGE');
        expect((err as Error).message).toMatch(
          /^--from ".*": give a time such as "2026-11-23 15:12:00" \(UTC\)/,
        );
        return undefined;
      }
    };
    for (const text of [
      '01/13/2020',
      '2026-11',
      '2020-02-30 00:00:00',
      'yesterday',
      '2026-11-23T15:12:00.1234Z',
    ])
      expect(cli(text), text).toBeUndefined();
    fc.assert(
      fc.property(
        fc.date({ min: new Date(0), max: new Date(Date.UTC(9999, 0)), noInvalidDate: true }),
        fc.constantFrom('iso', 'space', 'offset', 'ms'),
        (d, form) => {
          const iso = d.toISOString();
          const text =
            form === 'iso'
              ? iso
              : form === 'space'
                ? iso.replace('T', ' ').replace('Z', '')
                : form === 'offset'
                  ? iso.replace('Z', '-05:30')
                  : String(d.getTime());
          // Epoch milliseconds are a JSON number in a request, digits on a command line.
          expect(cli(text)).toBe(api(form === 'ms' ? d.getTime() : text));
        },
      ),
    );
  });
});
