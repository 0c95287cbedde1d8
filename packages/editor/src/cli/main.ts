/**
 * `hiedit`: the command line of the editor package. bin/hiedit.js calls main() from the built
 * dist/cli/main.js. The loader's commands come first, then the editor's own (./commands.ts).
 */
import * as fs from 'fs';
import * as path from 'path';
import { runCli, type CliCommand, type CliIO } from '@hiedit/tensor-core';
import { loaderCommands } from '@hiedit/llm-loader';
import { editorCommands } from './commands';

/** Every `hiedit` subcommand, in help order. Throws if two share a name (a wiring mistake). */
export function hieditCommands(): CliCommand[] {
  const all = [...loaderCommands, ...editorCommands];
  const seen = new Set<string>();
  for (const c of all) {
    if (seen.has(c.name)) throw new Error(`hiedit: two commands are named "${c.name}"`);
    seen.add(c.name);
  }
  return all;
}

/** A CliIO on the process's stdout and stderr. */
export function processIO(): CliIO {
  return { out: (s) => void process.stdout.write(s), err: (s) => void process.stderr.write(s) };
}

/** The editor package's version (package.json sits two levels above both src/cli and dist/cli). */
function version(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
    return `hiedit ${String(pkg.version)}`;
  } catch {
    return 'hiedit (unknown version)';
  }
}

/**
 * Runs `hiedit` with `argv` (the arguments after the program name). Resolves to the exit code:
 * 0 success, 1 failure, 2 usage error.
 */
export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    io.out(`${version()}\n`);
    return 0;
  }
  return runCli('hiedit', hieditCommands(), argv, io);
}
