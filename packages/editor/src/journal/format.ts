/**
 * Byte-level framing shared by edit journals and edit packs (see docs/editor.md, "Journal format").
 *
 * A file is an 8-byte ASCII magic followed by frames. A frame is
 *
 *   u32le N            payload length in bytes
 *   u32le ~N           bitwise complement of N: a corrupted length is detected before it is trusted
 *   N bytes payload    u32le J, J bytes of UTF-8 JSON, then a binary section of float32 little-endian arrays
 *   32 bytes           SHA-256 of the payload
 *
 * The JSON names every array by (offset, length) in float32 elements relative to the binary section.
 */
import { createHash } from 'crypto';
import { endianness } from 'os';

// On little-endian hosts (nearly all) float arrays are copied as bytes; elsewhere they are converted.
const HOST_LE = endianness() === 'LE';

/** Magic of an edit journal (format version 1). */
export const JOURNAL_MAGIC = 'HIEDITJ1';
/** Magic of an edit pack (format version 1). */
export const PACK_MAGIC = 'HIEDITP1';
/** Bytes of the magic at the start of every file. */
export const MAGIC_BYTES = 8;
/** Bytes of the frame prefix (length and its complement). */
export const FRAME_PREFIX_BYTES = 8;
/** Bytes of the SHA-256 trailer of every frame. */
export const FRAME_DIGEST_BYTES = 32;
/** The JSON format version written into header records. */
export const FORMAT_VERSION = 1;

/** A float32 array's location inside a payload's binary section, in elements. */
export interface BlobRef {
  readonly offset: number;
  readonly length: number;
}

/** A decoded payload: its JSON document and a reader for the binary section. */
export interface DecodedPayload {
  readonly json: Record<string, unknown>;
  /** Copies out the float32 array at `ref`; throws when it lies outside the binary section. */
  blob(ref: BlobRef): Float32Array;
}

/** SHA-256 of a byte range. */
export function sha256(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

/**
 * Builds one payload from a JSON document and the float32 arrays it refers to. `blobs[i]` is stored
 * at the ref the caller obtains from `layoutBlobs`, so JSON and binary agree by construction.
 */
export function encodePayload(json: unknown, blobs: readonly Float32Array[]): Buffer {
  const text = Buffer.from(JSON.stringify(json), 'utf8');
  const floats = blobs.reduce((n, b) => n + b.length, 0);
  const out = Buffer.alloc(4 + text.length + floats * 4);
  out.writeUInt32LE(text.length, 0);
  text.copy(out, 4);
  let pos = 4 + text.length;
  for (const b of blobs) {
    if (HOST_LE) {
      Buffer.from(b.buffer, b.byteOffset, b.byteLength).copy(out, pos);
      pos += b.byteLength;
    } else {
      for (let i = 0; i < b.length; i++, pos += 4) out.writeFloatLE(b[i], pos);
    }
  }
  return out;
}

/** Assigns consecutive refs to arrays of the given lengths (the order `encodePayload` writes them). */
export function layoutBlobs(lengths: readonly number[]): BlobRef[] {
  let offset = 0;
  return lengths.map((length) => {
    const ref = { offset, length };
    offset += length;
    return ref;
  });
}

/** Parses a payload; `where` names the file and record for error messages. */
export function decodePayload(payload: Buffer, where: string): DecodedPayload {
  if (payload.length < 4) throw new Error(`${where}: payload of ${payload.length} bytes is too short`);
  const j = payload.readUInt32LE(0);
  if (4 + j > payload.length) throw new Error(`${where}: JSON length ${j} exceeds the payload (${payload.length} bytes)`);
  let json: unknown;
  try {
    json = JSON.parse(payload.subarray(4, 4 + j).toString('utf8'));
  } catch (e) {
    throw new Error(`${where}: record JSON does not parse (${(e as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new Error(`${where}: record JSON is not an object`);
  }
  const binStart = 4 + j;
  const binFloats = Math.floor((payload.length - binStart) / 4);
  return {
    json: json as Record<string, unknown>,
    blob(ref: BlobRef): Float32Array {
      if (!Number.isInteger(ref.offset) || !Number.isInteger(ref.length) || ref.offset < 0 || ref.length < 0 ||
        ref.offset + ref.length > binFloats) {
        throw new Error(`${where}: array ref (offset ${ref.offset}, length ${ref.length}) lies outside the ` +
          `binary section of ${binFloats} floats`);
      }
      const out = new Float32Array(ref.length);
      const pos = binStart + ref.offset * 4;
      if (HOST_LE) {
        payload.copy(Buffer.from(out.buffer), 0, pos, pos + ref.length * 4);
      } else {
        for (let i = 0; i < ref.length; i++) out[i] = payload.readFloatLE(pos + i * 4);
      }
      return out;
    },
  };
}

/** Wraps a payload in a frame (length, complement, payload, digest). */
export function encodeFrame(payload: Buffer): Buffer {
  const out = Buffer.alloc(FRAME_PREFIX_BYTES + payload.length + FRAME_DIGEST_BYTES);
  out.writeUInt32LE(payload.length, 0);
  out.writeUInt32LE(~payload.length >>> 0, 4);
  payload.copy(out, FRAME_PREFIX_BYTES);
  sha256(payload).copy(out, FRAME_PREFIX_BYTES + payload.length);
  return out;
}
