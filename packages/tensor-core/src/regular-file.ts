/**
 * Opening input files without hanging on what is not a file: opening a FIFO for reading blocks until a writer
 * appears, so a FIFO named model.safetensors or config.json would hang a command forever.
 */
import * as fs from 'fs';

// O_NONBLOCK makes open return at once on a FIFO (and changes nothing for regular files); Windows has no FIFOs.
const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);

/**
 * Opens `file` for reading, refusing anything but a regular file (FIFO, device, directory, socket) with an error
 * `<file>: not a regular file (a FIFO)`. The check is on the opened descriptor, so a file swapped in between
 * cannot slip through. The caller closes the descriptor.
 */
export function openRegularFile(file: string): number {
  const fd = fs.openSync(file, OPEN_FLAGS);
  let st: fs.Stats;
  try {
    st = fs.fstatSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
  if (!st.isFile()) {
    fs.closeSync(fd);
    const kind = st.isFIFO() ? 'a FIFO' : st.isDirectory() ? 'a directory' : st.isSocket() ? 'a socket'
      : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'not a file';
    throw new Error(`${file}: not a regular file (${kind})`);
  }
  return fd;
}

/** Reads a whole regular file as UTF-8 text (see `openRegularFile`). */
export function readRegularFileText(file: string): string {
  const fd = openRegularFile(file);
  try {
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}
