import type { Command } from 'commander';
import { loadConfigFile } from '../config/load.js';
import { ConfigError } from '../core/errors.js';
import { writeLine } from './output.js';

/** Exit status of `vigil config check` on a file with problems (the CLI's "bad usage or configuration"). */
const EXIT_INVALID = 2;

/**
 * `vigil config check [file]`: validates a configuration file as a node would read it (the VIGIL_*
 * variables of this shell applied), and prints every problem as `file:line:column: key: why`, not
 * only the first. Exit 0 when valid, 2 when not.
 */
export function addConfigCommands(program: Command, configFile: () => string): void {
  program
    .command('config')
    .description('work with configuration files')
    .command('check')
    .description(
      'validate a configuration file: every problem as file:line:column; exit 0 when valid, 2 when not',
    )
    .argument('[file]', 'the file (default: the -c / --config file)')
    .action((file: string | undefined) => {
      const path = file ?? configFile();
      try {
        const c = loadConfigFile(path, process.env);
        const rules = c.pipeline.rules.length + c.logs.pipeline.rules.length;
        writeLine(
          `${path}: valid (${c.pipeline.windows.length} window(s), ${rules} rule(s), ` +
            `${c.logs.sources.length} log source(s), ${c.notify.sinks.length} notification sink(s))`,
        );
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        for (const p of err.problems)
          writeLine(`${p.at ?? path}: ${p.path === '' ? '' : `${p.path}: `}${p.message}`);
        writeLine(`${path}: ${err.problems.length} problem(s)`);
        process.exitCode = EXIT_INVALID;
      }
    });
}
