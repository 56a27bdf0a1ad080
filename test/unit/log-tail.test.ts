import { fileGlob } from '../../src/core/glob.js';
import { describe, expect, it } from 'vitest';
import { nextSizes, planReads, type FileInfo, type TrackedFile } from '../../src/core/log-sources/tail.js';

const matches = fileGlob('*.log');
const file = (name: string, id: string, size: number, mtimeMs: number, head = 'H'): FileInfo => ({
  name,
  id,
  size,
  mtimeMs,
  createdMs: 0,
  head,
});
/** Plans at wall clock `now`; `previous` sizes were seen at 0, and logs.multilineTimeout is 5 s. */
const plan = (
  tracked: TrackedFile[],
  listing: FileInfo[],
  previous = new Map<string, number>(),
  maxReadBytes = 1_000,
  now = 10_000,
) =>
  planReads(tracked, listing, {
    matches,
    maxReadBytes,
    sizes: new Map([...previous].map(([id, size]) => [id, { size, since: 0 }])),
    now,
    multilineTimeoutMs: 5_000,
  });

describe('planReads', () => {
  it('reads a new file from its start and an appended one from its offset', () => {
    const p = plan(
      [{ id: 'a', name: 'app.log', offset: 40, head: 'H' }],
      [file('app.log', 'a', 100, 2), file('other.log', 'b', 10, 1), file('notes.txt', 'c', 5, 1)],
    );
    // Files known before this poll are read before new ones.
    expect(p.reads.map((r) => [r.name, r.from, r.to])).toEqual([
      ['app.log', 40, 100],
      ['other.log', 0, 10],
    ]);
    expect(p.events).toEqual([{ kind: 'new', name: 'other.log' }]);
  });

  it('finishes a rotated file under its new name before the new file, then forgets it', () => {
    const tracked = [{ id: 'a', name: 'app.log', offset: 40, head: 'H' }];
    const listing = [file('app.log.1', 'a', 60, 1), file('app.log', 'n', 15, 2)];
    const p = plan(tracked, listing);
    expect(p.reads.map((r) => [r.name, r.from, r.to, r.final])).toEqual([
      ['app.log.1', 40, 60, true],
      ['app.log', 0, 15, false],
    ]);
    expect(p.events).toContainEqual({ kind: 'rotated', name: 'app.log.1', from: 'app.log' });
    const done = plan(
      p.files.map((f) => ({ ...f, offset: f.id === 'a' ? 60 : 15 })),
      listing,
    );
    expect(done.files.map((f) => f.name)).toEqual(['app.log']);
    expect(done.events).toContainEqual({ kind: 'finished', name: 'app.log.1' });
    expect(done.reads).toEqual([]);
  });

  it('starts over after a truncation (shorter than the offset, or rewritten in place)', () => {
    const shorter = plan(
      [{ id: 'a', name: 'app.log', offset: 40, head: 'H' }],
      [file('app.log', 'a', 12, 3)],
    );
    expect(shorter.reads.map((r) => [r.from, r.to])).toEqual([[0, 12]]);
    expect(shorter.events).toEqual([{ kind: 'truncated', name: 'app.log', offset: 40, id: 'a' }]);
    const rewritten = plan(
      [{ id: 'a', name: 'app.log', offset: 40, head: '15:00' }],
      [file('app.log', 'a', 90, 3, '16:00:00')],
    );
    expect(rewritten.reads.map((r) => [r.from, r.to])).toEqual([[0, 90]]);
    // A head that only grew is the same file.
    const grown = plan(
      [{ id: 'a', name: 'app.log', offset: 40, head: '15:00' }],
      [file('app.log', 'a', 90, 3, '15:00:00')],
    );
    expect(grown.reads.map((r) => [r.from, r.to])).toEqual([[40, 90]]);
    expect(grown.files[0]?.head).toBe('15:00:00');
  });

  it('drops a deleted file and reads at most maxReadBytes at a time', () => {
    const p = plan(
      [
        { id: 'gone', name: 'old.log', offset: 5, head: 'H' },
        { id: 'a', name: 'app.log', offset: 0, head: 'H' },
      ],
      [file('app.log', 'a', 5_000, 3)],
      new Map([['a', 5_000]]),
      1_000,
    );
    expect(p.events).toEqual([{ kind: 'deleted', name: 'old.log', id: 'gone' }]);
    expect(p.reads).toEqual([{ id: 'a', name: 'app.log', from: 0, to: 1_000, final: false, idle: false }]);
  });

  it('a file not finished this poll holds the newer files back, so lines stay in order', () => {
    const p = plan(
      [{ id: 'a', name: 'app.log', offset: 0, head: 'H' }],
      [file('app.log.1', 'a', 5_000, 1), file('app.log', 'n', 10, 1)],
      new Map(),
      1_000,
    );
    expect(p.reads.map((r) => [r.name, r.from, r.to])).toEqual([['app.log.1', 0, 1_000]]);
    // The new file is tracked from now on and read once the rotated one is done.
    expect(p.files.map((f) => f.name)).toEqual(['app.log.1', 'app.log']);
  });

  it('marks a file final when it is idle and a newer one is written, and idle when it did not grow', () => {
    const p = plan(
      [
        { id: 'a', name: 'a.log', offset: 0, head: 'H' },
        { id: 'b', name: 'b.log', offset: 0, head: 'H' },
      ],
      [file('a.log', 'a', 10, 1), file('b.log', 'b', 10, 2)],
      new Map([
        ['a', 10],
        ['b', 10],
      ]),
    );
    expect(p.reads.map((r) => [r.name, r.final, r.idle])).toEqual([
      ['a.log', true, true],
      ['b.log', false, true],
    ]);
  });

  it('holds a record open for logs.multilineTimeout: a trace flushed in two writes is one record', () => {
    const tracked = [{ id: 'a', name: 'a.log', offset: 0, head: 'H' }];
    const listing = [file('a.log', 'a', 10, 1)];
    const sizes = new Map([['a', 10]]);
    // Unchanged for 3 s (the first half of a trace, the rest on its way): not done yet.
    expect(plan(tracked, listing, sizes, 1_000, 3_000).reads[0]?.idle).toBe(false);
    expect(plan(tracked, listing, sizes, 1_000, 5_000).reads[0]?.idle).toBe(true);
    // Its size seen for the first time now: the clock starts now.
    const later = nextSizes([file('a.log', 'a', 25, 2)], new Map([['a', { size: 10, since: 0 }]]), 7_000);
    expect(later.get('a')).toEqual({ size: 25, since: 7_000 });
    expect(nextSizes([file('a.log', 'a', 25, 2)], later, 9_000).get('a')).toEqual({ size: 25, since: 7_000 });
  });
});

describe('fileGlob', () => {
  it.each([
    ['*.log', 'app.log', true],
    ['*.log', 'app.log.1', false],
    ['*.log', '.hidden.log', false],
    ['app-?.log', 'app-1.log', true],
    ['app-[0-9].log', 'app-x.log', false],
    ['*.{log,txt}', 'a.txt', true],
    ['*.{log,txt}', 'a.csv', false],
    ['app.log*', 'app.log.2', true],
  ])('%s on %s: %s', (glob, name, expected) => {
    expect(fileGlob(glob)(name)).toBe(expected);
  });
});
