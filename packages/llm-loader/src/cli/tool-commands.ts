/** `tokenize` and `doctor`: commands that need no model weights. */
import * as path from 'path';
import { BACKEND_NAMES, CliUsageError, requireFlag, type CliCommand } from '@hiedit/tensor-core';
import type { LoaderApi } from './api';
import { defineCommand, printResult } from './command';
import { selectBackend } from './model-commands';

function tokenize(api: LoaderApi): CliCommand {
  return defineCommand({
    name: 'tokenize',
    summary: 'Token ids of a text, from a model directory or a tokenizer.json file.',
    synopsis: 'tokenize (--model DIR | --tokenizer FILE) --text TEXT [--special] [--json]',
    flagHelp: [
      '--model DIR       directory holding tokenizer.json (and tokenizer_config.json)',
      '--tokenizer FILE  a tokenizer.json file (its sibling tokenizer_config.json is used when present)',
      '--text TEXT       the text',
      '--special         add the special tokens (e.g. BOS) the tokenizer adds to a sequence',
      '--json            machine-readable output: {"ids": [...]}',
    ],
    flags: { model: 'string', tokenizer: 'string', text: 'string', special: 'boolean', json: 'boolean' },
    action: async (flags, io) => {
      if ((flags.model === undefined) === (flags.tokenizer === undefined)) {
        throw new CliUsageError('give exactly one of --model and --tokenizer');
      }
      const text = requireFlag(flags.text, 'text');
      const tok = await api.loadTokenizer(path.resolve((flags.model ?? flags.tokenizer) as string));
      const ids = tok.encode(text, { addSpecialTokens: flags.special === true });
      printResult(io, flags.json, { ids }, () => [`${ids.length} tokens`, ...ids.map((id) => `${id}\t${JSON.stringify(tok.decode([id]))}`)]);
      return 0;
    },
  });
}

function doctor(api: LoaderApi): CliCommand {
  return defineCommand({
    name: 'doctor',
    summary: 'Backends found, the active one, why others were skipped, versions, accelerator.',
    synopsis: 'doctor [--backend NAME] [--json]',
    flagHelp: [
      `--backend NAME    try this backend: ${BACKEND_NAMES.join(', ')} (default: HIEDIT_BACKEND or the first available)`,
      '--json            the backend report as JSON',
    ],
    flags: { backend: 'string', json: 'boolean' },
    action: async (flags, io) => {
      await selectBackend(api, flags.backend);
      await api.initBackend();
      const r = api.backendReport();
      printResult(io, flags.json, r, () => {
        const lines = [`active backend: ${r.active}`, 'candidates:'];
        for (const c of r.candidates) {
          const mark = c.name === r.active ? '*' : c.available ? '+' : '-';
          lines.push(`  ${mark} ${c.name.padEnd(15)} ${c.available ? 'available' : 'unavailable'}${c.reason ? `: ${c.reason}` : ''}`);
        }
        const acc = r.accelerator;
        lines.push(`accelerator: ${acc.name} ${acc.active ? 'active' : 'inactive'}${acc.reason ? ` (${acc.reason})` : ''}`);
        lines.push('versions:');
        for (const [k, v] of Object.entries(r.versions)) lines.push(`  ${k.padEnd(28)} ${v}`);
        return lines;
      });
      return 0;
    },
  });
}

/** Commands that need no model weights, bound to `api`. */
export function toolCommands(api: LoaderApi): CliCommand[] {
  return [tokenize(api), doctor(api)];
}
