/** The texts of `hiedit tokenize --file`: a plain text file (one text per line) or JSON Lines. */
import * as fs from 'fs';

/** `text`: every line is one text, as written. `jsonl`: every non-blank line is a JSON string or {"text": ...}. */
export const TEXT_FILE_FORMATS = ['text', 'jsonl'] as const;
export type TextFileFormat = (typeof TEXT_FILE_FORMATS)[number];

/** One text of the file and the line it came from (1-based), so results and errors can point back to it. */
export interface TextInput {
  line: number;
  text: string;
}

/** The format a file is read in when none is given: JSON Lines for `.jsonl` / `.ndjson`, plain text otherwise. */
export function textFileFormat(file: string): TextFileFormat {
  return /\.(jsonl|ndjson)$/i.test(file) ? 'jsonl' : 'text';
}

function parseJsonLine(file: string, line: number, raw: string): string {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (e) {
    throw new Error(`${file}:${line}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && !Array.isArray(v) && typeof (v as { text?: unknown }).text === 'string') {
    return (v as { text: string }).text;
  }
  const shown = raw.length > 60 ? `${raw.slice(0, 57)}...` : raw;
  throw new Error(`${file}:${line}: expected a JSON string or an object with a "text" string, got ${shown}`);
}

/**
 * Reads the texts of `file` in order. In `text` format an empty line is an empty text (so result N is line N);
 * the newline ending the last line does not start another text. In `jsonl` format blank lines are skipped.
 * A trailing `\r` (Windows line ends) and a leading byte-order mark are dropped.
 * @throws naming the file and line of the first bad line, or when the file holds no text at all
 */
export function readTextInputs(file: string, format: TextFileFormat = textFileFormat(file)): TextInput[] {
  let content: string;
  try {
    content = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`--file ${file}: ${(e as Error).message}`);
  }
  const lines = content.replace(/^\uFEFF/, '').split('\n').map((l) => l.replace(/\r$/, ''));
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const inputs: TextInput[] = [];
  lines.forEach((raw, i) => {
    if (format === 'text') inputs.push({ line: i + 1, text: raw });
    else if (raw.trim() !== '') inputs.push({ line: i + 1, text: parseJsonLine(file, i + 1, raw) });
  });
  if (inputs.length === 0) throw new Error(`--file ${file} holds no text`);
  return inputs;
}
