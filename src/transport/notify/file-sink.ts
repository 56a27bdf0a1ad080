import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SinkConfig } from '../../config/load.js';
import { renderReport, reportFileName } from '../../core/notify.js';
import type { Alert } from '../../core/outputs.js';
import { DeliveryError, type Sink } from './sink.js';

type FileConfig = Extract<SinkConfig, { kind: 'file' }>;

/**
 * Writes each alert's report into a directory, one file per alert (named by time, source, rule, state
 * and id, so a repeat overwrites the same file with the same text). Written to a temporary name and
 * renamed, so a reader never sees half a report.
 */
export class FileSink implements Sink {
  readonly kind = 'file';
  readonly id: string;

  constructor(private readonly c: FileConfig) {
    this.id = c.id;
  }

  async deliver(alert: Alert): Promise<void> {
    const path = join(this.c.dir, reportFileName(alert));
    try {
      await mkdir(this.c.dir, { recursive: true });
      await writeFile(`${path}.tmp`, renderReport(alert));
      await rename(`${path}.tmp`, path);
    } catch (err) {
      // A full or read-only disk can be fixed; the alert waits for it.
      throw new DeliveryError(`writing ${path}: ${(err as Error).message}`, { retriable: true, cause: err });
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
