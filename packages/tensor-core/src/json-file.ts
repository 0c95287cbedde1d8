/** Reading JSON files with errors that name the file, so bad input is reported the same way everywhere. */
import { readRegularFileText } from './regular-file';

/**
 * Parses the JSON file `file`. Errors: `<file>: cannot read (<reason>)` when it cannot be read (or is not a regular
 * file: a FIFO would block the read forever), and
 * `<file>: invalid JSON (<reason>)` when it does not parse. The caller validates the shape.
 */
export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = readRegularFileText(file);
  } catch (e) {
    throw new Error(`${file}: cannot read (${(e as Error).message})`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new Error(`${file}: invalid JSON (${(e as Error).message})`);
  }
}
