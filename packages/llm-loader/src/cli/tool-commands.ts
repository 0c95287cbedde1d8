/** `tokenize` and `doctor`: commands that need no model weights. */
import * as path from 'path';
import { BACKEND_NAMES, CliUsageError, defineCommand, requireFlag, type CliCommand } from '@hiedit/tensor-core';
import type { LoaderApi } from './api';
import type { Tokenizer } from '../tokenizer';
import { printResult } from './command';
import { readTextInputs, TEXT_FILE_FORMATS, type TextFileFormat } from './text-inputs';
import { selectBackend } from './model-commands';

/** One text's ids, printed as text: the count, then each id with the piece it decodes to. */
function idLines(tok: Tokenizer, ids: number[]): string[] {
  return [`${ids.length} tokens`, ...ids.map((id) => `${id}\t${JSON.stringify(tok.decode([id]))}`)];
}

function tokenize(api: LoaderApi): CliCommand {
  return defineCommand({
    program: 'hiedit',
    name: 'tokenize',
    summary: 'Token ids of a text, or of every text in a file, from a model directory or a tokenizer.json file.',
    synopsis: 'tokenize (--model DIR | --tokenizer FILE) (--text TEXT | --file FILE [--format text|jsonl]) [--special] [--json]',
    flagHelp: [
      '--model DIR       directory holding tokenizer.json (and tokenizer_config.json)',
      '--tokenizer FILE  a tokenizer.json file (its sibling tokenizer_config.json is used when present)',
      '--text TEXT       the text',
      '--file FILE       many texts: a text file with one text per line (an empty line is an empty text),',
      '                  or JSON Lines where each non-blank line is a JSON string or {"text": "..."}',
      '--format FMT      how to read --file: text or jsonl (default jsonl for *.jsonl / *.ndjson, else text)',
      '--special         add the special tokens (e.g. BOS) the tokenizer adds to a sequence',
      '--json            machine-readable output: {"ids": [...]}; with --file one such line per text,',
      '                  in file order, with its line number: {"line": 3, "ids": [...]}',
    ],
    flags: { model: 'string', tokenizer: 'string', text: 'string', file: 'string', format: 'string', special: 'boolean', json: 'boolean' },
    action: async (flags, io) => {
      if ((flags.model === undefined) === (flags.tokenizer === undefined)) {
        throw new CliUsageError('give exactly one of --model and --tokenizer');
      }
      if (flags.text !== undefined && flags.file !== undefined) throw new CliUsageError('give --text or --file, not both');
      if (flags.file === undefined && flags.format !== undefined) throw new CliUsageError('--format applies to --file');
      const format = flags.format;
      if (format !== undefined && !(TEXT_FILE_FORMATS as readonly string[]).includes(format)) {
        throw new CliUsageError(`--format must be ${TEXT_FILE_FORMATS.join(' or ')}, got ${JSON.stringify(format)}`);
      }
      // The whole file is read and checked before the tokenizer loads, so a bad line costs nothing and prints nothing.
      const inputs = flags.file !== undefined
        ? readTextInputs(flags.file, format as TextFileFormat | undefined)
        : [{ line: 0, text: requireFlag(flags.text, 'text') }];
      const tok = await api.loadTokenizer(path.resolve((flags.model ?? flags.tokenizer) as string));
      const encoded = inputs.map((t) => ({ line: t.line, ids: tok.encode(t.text, { addSpecialTokens: flags.special === true }) }));
      if (flags.file === undefined) {
        const { ids } = encoded[0];
        printResult(io, flags.json, { ids }, () => idLines(tok, ids));
      } else if (flags.json) {
        io.out(encoded.map((e) => JSON.stringify(e)).join('\n') + '\n');
      } else {
        const blocks = encoded.flatMap((e) => {
          const [count, ...pieces] = idLines(tok, e.ids);
          return [`line ${e.line}: ${count}`, ...pieces];
        });
        io.out(blocks.join('\n') + '\n');
      }
      return 0;
    },
  });
}

function doctor(api: LoaderApi): CliCommand {
  return defineCommand({
    program: 'hiedit',
    name: 'doctor',
    summary: 'Backends found, the active one, why others were skipped, versions, accelerator, GPU.',
    synopsis: 'doctor [--backend NAME] [--json]',
    flagHelp: [
      `--backend NAME    try this backend: ${BACKEND_NAMES.join(', ')} (default: HIEDIT_BACKEND or the first available)`,
      '--json            the backend report as JSON (with a `gpu` field: status, summary, details, probe)',
    ],
    flags: { backend: 'string', json: 'boolean' },
    action: async (flags, io) => {
      await selectBackend(api, flags.backend);
      await api.initBackend();
      const r = api.backendReport();
      const gpu = api.gpuReport();
      printResult(io, flags.json, { ...r, gpu }, () => {
        const lines = [`active backend: ${r.active}`, 'candidates:'];
        for (const c of r.candidates) {
          const mark = c.name === r.active ? '*' : c.available ? '+' : '-';
          lines.push(`  ${mark} ${c.name.padEnd(15)} ${c.available ? 'available' : 'unavailable'}${c.reason ? `: ${c.reason}` : ''}`);
        }
        const acc = r.accelerator;
        lines.push(`accelerator: ${acc.name} ${acc.active ? 'active' : 'inactive'}${acc.reason ? ` (${acc.reason})` : ''}`);
        lines.push(`gpu: ${gpu.status}: ${gpu.summary}`, ...gpu.details.map((d) => `  ${d}`));
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
