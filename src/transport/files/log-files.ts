import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { HEAD_BYTES, type FileInfo, type ReadPlan } from '../../core/log-sources/tail.js';

/** A file's identity: device, inode and birth time (an inode number is reused after a delete). */
export function fileId(s: { dev: number; ino: number; birthtimeMs: number }): string {
  return `${s.dev}:${s.ino}:${Math.floor(s.birthtimeMs)}`;
}

/**
 * The directory's regular files with their identity and first bytes (of the files wanted: tracked or
 * matching). Throws when the directory cannot be listed; a file gone between the listing and its stat
 * (a rotation in progress) is left out: the next poll sees it settled.
 */
export async function listFiles(
  dir: string,
  wanted: (name: string, id: string) => boolean,
): Promise<FileInfo[]> {
  const names = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isFile()).map((d) => d.name);
  const out: FileInfo[] = [];
  for (const name of names) {
    try {
      const s = await stat(join(dir, name));
      const id = fileId(s);
      const head = wanted(name, id) ? await readHead(join(dir, name), Math.min(s.size, HEAD_BYTES)) : '';
      out.push({ name, id, size: s.size, mtimeMs: s.mtimeMs, createdMs: s.birthtimeMs, head });
    } catch {
      // Gone between the listing and the stat.
    }
  }
  return out;
}

async function readHead(path: string, n: number): Promise<string> {
  if (n === 0) return '';
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await handle.read(buf, 0, n, 0);
    return buf.toString('latin1', 0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** The planned bytes, if the name still holds the same file (it may have been rotated since). */
export async function readPlanned(dir: string, plan: ReadPlan): Promise<Buffer | undefined> {
  let handle;
  try {
    handle = await open(join(dir, plan.name), 'r');
  } catch {
    return undefined;
  }
  try {
    if (fileId(await handle.stat()) !== plan.id) return undefined;
    const buf = Buffer.allocUnsafe(plan.to - plan.from);
    let filled = 0;
    while (filled < buf.length) {
      const { bytesRead } = await handle.read(buf, filled, buf.length - filled, plan.from + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buf.subarray(0, filled);
  } finally {
    await handle.close();
  }
}
