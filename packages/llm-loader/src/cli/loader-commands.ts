/** The loader's subcommands in their `hiedit --help` order, bound to a LoaderApi. */
import type { CliCommand } from '@hiedit/tensor-core';
import type { LoaderApi } from './api';
import { modelCommands } from './model-commands';
import { toolCommands } from './tool-commands';

/** info, forward, grad, tokenize, generate, doctor over `api` (tests may pass another one). */
export function createLoaderCommands(api: LoaderApi): CliCommand[] {
  const byName = new Map([...modelCommands(api), ...toolCommands(api)].map((c) => [c.name, c]));
  return ['info', 'forward', 'grad', 'tokenize', 'generate', 'doctor'].map((n) => byName.get(n) as CliCommand);
}
