import { describe, expect, it } from 'vitest';
import { decodeLogRecord, logRecordAsReading } from '../../src/core/log-record.js';

describe('decodeLogRecord', () => {
  it('accepts a parsed logback line and keeps the optional fields it has', () => {
    const r = decodeLogRecord(
      '{"source":"billing","ts":1000,"level":"ERROR","thread":"main","message":"payment failed"}',
    );
    expect(r).toEqual({
      ok: true,
      value: { source: 'billing', ts: 1000, level: 'ERROR', thread: 'main', message: 'payment failed' },
    });
  });

  it.each([
    [null, 'empty record value'],
    ['{', 'not valid JSON'],
    [
      '{"source":"a","ts":1,"level":"FATAL","message":"x"}',
      'level: must be one of TRACE, DEBUG, INFO, WARN, ERROR',
    ],
    ['{"source":"","ts":1,"level":"INFO","message":"x"}', 'source: must not be empty'],
    ['{"source":"a","ts":-5,"level":"INFO","message":"x"}', 'ts: must not be negative'],
    ['{"source":"a","ts":1,"level":"INFO"}', 'message:'],
  ])('rejects %j with a precise reason', (raw, reason) => {
    const r = decodeLogRecord(raw);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain(reason);
  });

  it('becomes a reading of its source with one count of its level', () => {
    expect(logRecordAsReading({ source: 'api', ts: 5, level: 'WARN', message: 'slow' })).toEqual({
      sensorId: 'api',
      ts: 5,
      values: { WARN: 1 },
      text: 'slow',
    });
  });
});
