/**
 * safetensors reading (single file and sharded) and writing.
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON header, then the data region. The header
 * maps tensor names to {dtype, shape, data_offsets: [begin, end]} relative to the data region, plus an
 * optional `__metadata__` string map. Headers are validated strictly before any tensor is read, and
 * tensors are read one at a time at their offsets so a caller only pays for what it asks for.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writeFileAtomicWith, writeFully } from './fs-atomic';
import { openRegularFile, readRegularFileText } from './regular-file';
import {
  DTYPE_SIZE,
  SafeDType,
  assertFinite,
  assertFiniteHalf,
  bf16BitsToFloat32,
  f16BitsToFloat32,
  float32ToBf16Bits,
  float32ToF16Bits,
  isFloatDType,
  isSafeDType,
} from './dtypes';

export type { SafeDType } from './dtypes';

/** A tensor read into host memory. Floating dtypes are decoded to Float32Array; `dtype` keeps the stored one. */
export interface HostTensor {
  dtype: SafeDType;
  shape: number[];
  data: Float32Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | Int16Array;
}

/** Where a tensor lives. */
export interface TensorEntry {
  name: string;
  dtype: SafeDType;
  shape: number[];
  /** Absolute path of the file holding the tensor. */
  file: string;
}

/** One safetensors file or a sharded checkpoint, read lazily. */
export interface WeightSource {
  readonly files: string[];
  readonly metadata: Record<string, string>;
  /** Tensor names in header order. */
  names(): string[];
  /** Entry by name; throws naming the tensor and the file(s) when absent. */
  entry(name: string): TensorEntry;
  has(name: string): boolean;
  /** Reads one tensor from disk (only its bytes). */
  read(name: string): HostTensor;
  /** Releases file handles; later reads throw. Idempotent. */
  close(): void;
}

/** Headers larger than this are refused before allocating: real headers are a few MB at most. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** readSync/writeSync lengths must stay below 2^31; chunk large tensors. */
const IO_CHUNK = 1 << 30;

const LITTLE_ENDIAN = os.endianness() === 'LE';

interface ParsedEntry {
  dtype: SafeDType;
  shape: number[];
  begin: number;
  end: number;
}

function fail(file: string, problem: string): never {
  throw new Error(`safetensors file ${file}: ${problem}`);
}

function readFully(fd: number, target: Uint8Array, position: number, file: string, what: string): void {
  let done = 0;
  while (done < target.length) {
    const len = Math.min(IO_CHUNK, target.length - done);
    const n = fs.readSync(fd, target, done, len, position + done);
    if (n === 0) fail(file, `unexpected end of file while reading ${what} (file truncated or changed while open)`);
    done += n;
  }
}

function validShape(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0);
}

function validOffsets(v: unknown): v is [number, number] {
  return (
    Array.isArray(v) &&
    v.length === 2 &&
    v.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0) &&
    v[0] <= v[1]
  );
}

/** Validates a parsed header against the data region size; returns entries in header order. */
function validateHeader(
  file: string,
  header: unknown,
  dataBytes: number,
): { entries: Map<string, ParsedEntry>; metadata: Record<string, string> } {
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    fail(file, 'header is not a JSON object');
  }
  const metadata: Record<string, string> = {};
  const entries = new Map<string, ParsedEntry>();
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(file, '__metadata__ is not an object');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(file, `__metadata__ value for "${k}" is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    if (name.length === 0) fail(file, 'header has a tensor with an empty name');
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      fail(file, `header entry for tensor "${name}" is not an object`);
    }
    const e = raw as Record<string, unknown>;
    for (const key of Object.keys(e)) {
      if (key !== 'dtype' && key !== 'shape' && key !== 'data_offsets') {
        fail(file, `tensor "${name}" has an unknown header field "${key}"`);
      }
    }
    if (e.dtype === undefined) fail(file, `tensor "${name}" is missing "dtype"`);
    if (!isSafeDType(e.dtype)) {
      fail(
        file,
        `tensor "${name}" has unknown or unsupported dtype ${JSON.stringify(e.dtype)} (supported: ${Object.keys(DTYPE_SIZE).join(', ')})`,
      );
    }
    if (e.shape === undefined) fail(file, `tensor "${name}" is missing "shape"`);
    if (!validShape(e.shape)) {
      fail(file, `tensor "${name}" has an invalid shape ${JSON.stringify(e.shape)} (need non-negative integers)`);
    }
    if (e.data_offsets === undefined) fail(file, `tensor "${name}" is missing "data_offsets"`);
    if (!validOffsets(e.data_offsets)) {
      fail(
        file,
        `tensor "${name}" has invalid data_offsets ${JSON.stringify(e.data_offsets)} (need [begin, end], integers, 0 <= begin <= end)`,
      );
    }
    const [begin, end] = e.data_offsets;
    if (end > dataBytes) {
      fail(file, `tensor "${name}" data_offsets [${begin}, ${end}] reach beyond the data region of ${dataBytes} bytes`);
    }
    let elements = 1;
    for (const d of e.shape) elements *= d;
    const expected = elements * DTYPE_SIZE[e.dtype];
    if (!Number.isSafeInteger(expected) || expected !== end - begin) {
      fail(
        file,
        `tensor "${name}" shape [${e.shape.join(', ')}] x ${e.dtype} (${DTYPE_SIZE[e.dtype]} bytes) needs ${expected} bytes but data_offsets [${begin}, ${end}] give ${end - begin}`,
      );
    }
    entries.set(name, { dtype: e.dtype, shape: e.shape.slice(), begin, end });
  }

  // The byte ranges must tile the data region exactly: no overlap, no gap, nothing left over.
  const sorted = [...entries.entries()].sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  let cursor = 0;
  let prevName = '';
  for (const [name, e] of sorted) {
    if (e.begin < cursor) {
      fail(file, `tensor "${name}" data_offsets [${e.begin}, ${e.end}] overlap tensor "${prevName}" (which ends at ${cursor})`);
    }
    if (e.begin > cursor) {
      fail(
        file,
        `gap in the data region: bytes [${cursor}, ${e.begin}) belong to no tensor before "${name}" (offsets out of order or with holes)`,
      );
    }
    cursor = e.end;
    prevName = name;
  }
  if (cursor !== dataBytes) {
    fail(file, `tensors cover ${cursor} bytes but the data region has ${dataBytes} bytes (offsets do not cover the data)`);
  }
  return { entries, metadata };
}

function decode(file: string, name: string, e: ParsedEntry, bytes: Uint8Array): HostTensor['data'] {
  const buf = bytes.buffer;
  const n = (e.end - e.begin) / DTYPE_SIZE[e.dtype];
  switch (e.dtype) {
    case 'F32':
      return new Float32Array(buf, 0, n);
    case 'F64':
      return Float32Array.from(new Float64Array(buf, 0, n));
    case 'F16':
      return f16BitsToFloat32(new Uint16Array(buf, 0, n));
    case 'BF16':
      return bf16BitsToFloat32(new Uint16Array(buf, 0, n));
    case 'I64':
      return new BigInt64Array(buf, 0, n);
    case 'I32':
      return new Int32Array(buf, 0, n);
    case 'I16':
      return new Int16Array(buf, 0, n);
    case 'I8':
      return new Int8Array(buf, 0, n);
    case 'U8':
      return new Uint8Array(buf, 0, n);
    case 'BOOL': {
      const b = new Uint8Array(buf, 0, n);
      for (let i = 0; i < n; i++) {
        if (b[i] > 1) fail(file, `BOOL tensor "${name}" holds byte ${b[i]} at flat index ${i} (only 0 and 1 are valid)`);
      }
      return b;
    }
  }
}

/** Closes descriptors of sources dropped without close() (e.g. after a failed load elsewhere). */
const leakedFds = new FinalizationRegistry<number>((fd) => {
  try {
    fs.closeSync(fd);
  } catch {
    // Already closed: nothing to release.
  }
});

/** A single open safetensors file. */
class SafetensorsFile implements WeightSource {
  readonly files: string[];
  readonly metadata: Record<string, string>;
  private fd: number | undefined;
  private readonly dataStart: number;
  private readonly entries: Map<string, ParsedEntry>;

  constructor(readonly file: string) {
    this.files = [file];
    let fd: number;
    try {
      fd = openRegularFile(file);
    } catch (err) {
      fail(file, `cannot open (${(err as Error).message.replace(`${file}: `, '')})`);
    }
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) fail(file, 'not a regular file');
      const size = st.size;
      if (size < 8) fail(file, `file is truncated: ${size} bytes, shorter than the 8-byte header length`);
      const lenBytes = new Uint8Array(8);
      readFully(fd, lenBytes, 0, file, 'the header length');
      const headerLen = new DataView(lenBytes.buffer).getBigUint64(0, true);
      // Checked as BigInt before any allocation: a hostile length must never size a buffer.
      if (headerLen > BigInt(MAX_HEADER_BYTES)) {
        fail(file, `header length ${headerLen} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit; refusing to read it`);
      }
      const n = Number(headerLen);
      if (8 + n > size) {
        fail(file, `header length ${n} bytes reaches beyond the end of the file (${size} bytes; truncated file?)`);
      }
      const headerBytes = new Uint8Array(n);
      readFully(fd, headerBytes, 8, file, 'the header');
      let header: unknown;
      try {
        header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
      } catch (err) {
        fail(file, `header is not valid JSON (${(err as Error).message})`);
      }
      const parsed = validateHeader(file, header, size - 8 - n);
      this.entries = parsed.entries;
      this.metadata = parsed.metadata;
      this.dataStart = 8 + n;
      this.fd = fd;
      leakedFds.register(this, fd, this);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  entry(name: string): TensorEntry {
    const e = this.entries.get(name);
    if (!e) fail(this.file, `no tensor named "${name}"`);
    return { name, dtype: e.dtype, shape: e.shape.slice(), file: this.file };
  }

  read(name: string): HostTensor {
    const e = this.entries.get(name);
    if (!e) fail(this.file, `no tensor named "${name}"`);
    if (this.fd === undefined) fail(this.file, `cannot read tensor "${name}": the source was closed`);
    if (!LITTLE_ENDIAN) fail(this.file, 'reading safetensors needs a little-endian host');
    const bytes = new Uint8Array(new ArrayBuffer(e.end - e.begin));
    readFully(this.fd, bytes, this.dataStart + e.begin, this.file, `tensor "${name}"`);
    return { dtype: e.dtype, shape: e.shape.slice(), data: decode(this.file, name, e, bytes) };
  }

  close(): void {
    if (this.fd !== undefined) {
      leakedFds.unregister(this);
      fs.closeSync(this.fd);
      this.fd = undefined;
    }
  }
}

/** Opens one safetensors file, validating its header strictly; tensors are read only when asked for. */
export function openSafetensors(file: string): WeightSource {
  return new SafetensorsFile(path.resolve(file));
}

/** A sharded checkpoint: model.safetensors.index.json plus its shard files. */
class ShardedSource implements WeightSource {
  readonly files: string[];
  readonly metadata: Record<string, string>;
  private readonly shardOf: Map<string, SafetensorsFile>;

  constructor(
    private readonly indexFile: string,
    shards: SafetensorsFile[],
    shardOf: Map<string, SafetensorsFile>,
  ) {
    this.files = shards.map((s) => s.file);
    this.shardOf = shardOf;
    const meta: Record<string, string> = {};
    for (const s of shards) for (const [k, v] of Object.entries(s.metadata)) if (!(k in meta)) meta[k] = v;
    this.metadata = meta;
  }

  names(): string[] {
    return [...this.shardOf.keys()];
  }

  has(name: string): boolean {
    return this.shardOf.has(name);
  }

  private shard(name: string): SafetensorsFile {
    const s = this.shardOf.get(name);
    if (!s) throw new Error(`sharded checkpoint ${this.indexFile}: no tensor named "${name}" in weight_map`);
    return s;
  }

  entry(name: string): TensorEntry {
    return this.shard(name).entry(name);
  }

  read(name: string): HostTensor {
    return this.shard(name).read(name);
  }

  close(): void {
    for (const f of new Set(this.shardOf.values())) f.close();
  }
}

function isInside(dir: string, candidate: string): boolean {
  const rel = path.relative(dir, candidate);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** Opens a sharded checkpoint from its index file, refusing shard names that leave the model directory. */
function openSharded(indexFile: string): WeightSource {
  const dir = path.dirname(indexFile);
  // A function declaration (not an arrow) so TypeScript narrows after calls returning never.
  function bad(problem: string): never {
    throw new Error(`sharded checkpoint index ${indexFile}: ${problem}`);
  }
  let index: unknown;
  try {
    index = JSON.parse(readRegularFileText(indexFile));
  } catch (err) {
    bad(`cannot read it as JSON (${(err as Error).message})`);
  }
  if (index === null || typeof index !== 'object' || Array.isArray(index)) bad('not a JSON object');
  const map = (index as Record<string, unknown>).weight_map;
  if (map === null || typeof map !== 'object' || Array.isArray(map)) bad('missing "weight_map" object');
  const entries = Object.entries(map as Record<string, unknown>);
  if (entries.length === 0) bad('"weight_map" is empty');

  const realDir = fs.realpathSync(dir);
  const shardByName = new Map<string, SafetensorsFile>();
  const shardOf = new Map<string, SafetensorsFile>();
  try {
    for (const [tensor, shardName] of entries) {
      if (typeof shardName !== 'string' || shardName.length === 0) {
        bad(`weight_map entry for "${tensor}" is not a file name`);
      }
      let shard = shardByName.get(shardName);
      if (!shard) {
        if (path.isAbsolute(shardName) || path.win32.isAbsolute(shardName)) {
          bad(`shard "${shardName}" (for "${tensor}") is an absolute path; shards must be inside the model directory`);
        }
        const resolved = path.resolve(dir, shardName);
        if (!isInside(path.resolve(dir), resolved)) {
          bad(`shard "${shardName}" (for "${tensor}") points outside the model directory ${dir}`);
        }
        if (!fs.existsSync(resolved)) bad(`shard "${shardName}" (for "${tensor}") does not exist at ${resolved}`);
        // Symlinks could still lead elsewhere: compare real paths too.
        const real = fs.realpathSync(resolved);
        if (!isInside(realDir, real)) {
          bad(`shard "${shardName}" (for "${tensor}") resolves to ${real}, outside the model directory ${realDir}`);
        }
        shard = new SafetensorsFile(resolved);
        shardByName.set(shardName, shard);
      }
      if (!shard.has(tensor)) bad(`weight_map maps "${tensor}" to shard "${shardName}", which does not contain it`);
      shardOf.set(tensor, shard);
    }
  } catch (err) {
    for (const s of shardByName.values()) s.close();
    throw err;
  }
  return new ShardedSource(indexFile, [...shardByName.values()], shardOf);
}

/** Name of the single-file checkpoint in a Hugging Face directory. */
export const SINGLE_FILE_NAME = 'model.safetensors';
/** Name of the sharded checkpoint index in a Hugging Face directory. */
export const SHARD_INDEX_NAME = 'model.safetensors.index.json';

/**
 * Opens the weights of a Hugging Face model directory: model.safetensors, or else the sharded form via
 * model.safetensors.index.json. A path to a `.safetensors` file or an index file is also accepted.
 */
export function openCheckpointWeights(dir: string): WeightSource {
  const abs = path.resolve(dir);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(abs);
  } catch {
    throw new Error(`checkpoint ${abs}: no such file or directory`);
  }
  if (stat.isFile()) return abs.endsWith('.json') ? openSharded(abs) : openSafetensors(abs);
  const single = path.join(abs, SINGLE_FILE_NAME);
  if (fs.existsSync(single)) return openSafetensors(single);
  const index = path.join(abs, SHARD_INDEX_NAME);
  if (fs.existsSync(index)) return openSharded(index);
  throw new Error(`checkpoint directory ${abs}: neither ${SINGLE_FILE_NAME} nor ${SHARD_INDEX_NAME} found`);
}

/**
 * Reads a float tensor and checks every value is finite, throwing an Error naming the tensor and file.
 */
export function readFiniteFloat(src: WeightSource, name: string): HostTensor & { data: Float32Array } {
  const t = src.read(name);
  if (!isFloatDType(t.dtype) || !(t.data instanceof Float32Array)) {
    throw new Error(`tensor "${name}" in ${src.entry(name).file}: expected a floating dtype, found ${t.dtype}`);
  }
  assertFinite(t.data, `tensor "${name}" in ${src.entry(name).file}`);
  return t as HostTensor & { data: Float32Array };
}

/** A tensor to write. */
export interface WriteTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/**
 * Writes tensors to a safetensors file atomically (temp file in the same directory, fsync, rename).
 * The header is padded with spaces so the data region starts 8-byte aligned.
 *
 * Every value must be finite, and representable in `dtype` (F16 tops out at 65504): loaders refuse
 * non-finite weights, so such a file is refused here, with an Error naming the tensor and the dtype,
 * and nothing is written. `allowNonFinite` lifts both checks, only for deliberately broken test fixtures.
 */
export function writeSafetensors(
  file: string,
  tensors: WriteTensor[],
  opts: { dtype?: 'F32' | 'F16' | 'BF16'; metadata?: Record<string, string>; allowNonFinite?: boolean } = {},
): void {
  const target = path.resolve(file);
  const dtype = opts.dtype ?? 'F32';
  if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') {
    throw new Error(`writeSafetensors ${target}: unsupported dtype ${JSON.stringify(dtype)} (F32, F16 or BF16)`);
  }
  if (!LITTLE_ENDIAN) throw new Error(`writeSafetensors ${target}: writing needs a little-endian host`);
  const header: Record<string, unknown> = {};
  if (opts.metadata) {
    for (const [k, v] of Object.entries(opts.metadata)) {
      if (typeof v !== 'string') throw new Error(`writeSafetensors ${target}: metadata value for "${k}" is not a string`);
    }
    header.__metadata__ = { ...opts.metadata };
  }
  const size = DTYPE_SIZE[dtype];
  let offset = 0;
  const seen = new Set<string>();
  for (const t of tensors) {
    if (typeof t.name !== 'string' || t.name.length === 0 || t.name === '__metadata__') {
      throw new Error(`writeSafetensors ${target}: invalid tensor name ${JSON.stringify(t.name)}`);
    }
    if (seen.has(t.name)) throw new Error(`writeSafetensors ${target}: duplicate tensor name "${t.name}"`);
    seen.add(t.name);
    if (!validShape(t.shape)) {
      throw new Error(`writeSafetensors ${target}: tensor "${t.name}" has an invalid shape ${JSON.stringify(t.shape)}`);
    }
    if (!(t.data instanceof Float32Array)) {
      throw new Error(`writeSafetensors ${target}: tensor "${t.name}" data must be a Float32Array`);
    }
    const elements = t.shape.reduce((a, b) => a * b, 1);
    if (elements !== t.data.length) {
      throw new Error(
        `writeSafetensors ${target}: tensor "${t.name}" shape [${t.shape.join(', ')}] has ${elements} elements but data has ${t.data.length}`,
      );
    }
    if (!opts.allowNonFinite) assertFinite(t.data, `writeSafetensors ${target}: tensor "${t.name}"`);
    header[t.name] = { dtype, shape: t.shape.slice(), data_offsets: [offset, offset + elements * size] };
    offset += elements * size;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil((8 + json.length) / 8) * 8 - 8;
  const headerBytes = Buffer.alloc(8 + padded, 0x20);
  headerBytes.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(headerBytes, 8);

  try {
    writeFileAtomicWith(target, (fd) => {
      writeFully(fd, headerBytes);
      for (const t of tensors) {
        let bits: Float32Array | Uint16Array = t.data;
        if (dtype !== 'F32') {
          bits = dtype === 'F16' ? float32ToF16Bits(t.data) : float32ToBf16Bits(t.data);
          // Converted here, while writing, so the halves are never all held at once; a throw removes the temp file.
          if (!opts.allowNonFinite) assertFiniteHalf(bits, dtype, t.data, `tensor "${t.name}"`);
        }
        writeFully(fd, new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength));
      }
    });
  } catch (err) {
    throw new Error(`writeSafetensors ${target}: ${(err as Error).message}`);
  }
}

