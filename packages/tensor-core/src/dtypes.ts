/**
 * Bit-exact conversions between float32 and the 16-bit float formats safetensors stores
 * (IEEE binary16 "F16" and bfloat16 "BF16"). Pure typed-array code, no tfjs.
 */

/** The dtypes a safetensors file may hold that hiedit reads. */
export type SafeDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** Bytes per element of each supported dtype. */
export const DTYPE_SIZE: Readonly<Record<SafeDType, number>> = Object.freeze({
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
});

/** True when `s` names a dtype hiedit can read. */
export function isSafeDType(s: unknown): s is SafeDType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZE, s);
}

/** True for the dtypes decoded to Float32Array. */
export function isFloatDType(d: SafeDType): boolean {
  return d === 'F64' || d === 'F32' || d === 'F16' || d === 'BF16';
}

/**
 * float32 -> bfloat16 bit patterns with round-to-nearest-even. NaN stays NaN (quiet bit forced so a
 * payload living only in the low mantissa bits cannot turn into Inf); overflow rounds to +-Inf.
 */
export function float32ToBf16Bits(x: Float32Array): Uint16Array {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < u.length; i++) {
    const bits = u[i];
    if ((bits & 0x7fffffff) > 0x7f800000) {
      out[i] = (bits >>> 16) | 0x0040;
      continue;
    }
    // Adding 0x7fff plus the lowest kept bit rounds ties to even; carries propagate into the exponent.
    out[i] = ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
  }
  return out;
}

/** bfloat16 bit patterns -> float32 (exact: bf16 is the top half of a float32). */
export function bf16BitsToFloat32(b: Uint16Array): Float32Array {
  const out = new Float32Array(b.length);
  const u = new Uint32Array(out.buffer);
  for (let i = 0; i < b.length; i++) u[i] = b[i] << 16;
  return out;
}

/** Converts one float32 bit pattern to binary16 bits, round-to-nearest-even. */
function f32BitsToF16(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) {
    // Keep NaN a NaN: force the quiet bit so a payload below bit 13 is not lost to Inf.
    return mant !== 0 ? sign | 0x7c00 | 0x0200 | (mant >>> 13) : sign | 0x7c00;
  }
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half (or zero): value = m * 2^(e-14) half-ulps, with m the 24-bit significand.
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1) === 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent, up to Inf (0x7c00).
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++;
  return sign | h;
}

/** float32 -> IEEE binary16 bit patterns, round-to-nearest-even, subnormals, +-Inf and NaN preserved. */
export function float32ToF16Bits(x: Float32Array): Uint16Array {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < u.length; i++) out[i] = f32BitsToF16(u[i]);
  return out;
}

let f16Table: Float32Array | undefined;

/** All 65536 half values decoded once: checkpoints hold millions of halves, the table is 256 KB. */
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  const tu = new Uint32Array(t.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) {
      t[h] = sign * mant * 2 ** -24;
    } else if (exp === 0x1f) {
      if (mant === 0) {
        t[h] = sign * Infinity;
      } else {
        // Written through the bit view: a float store could canonicalise the NaN's sign and payload.
        tu[h] = (((h & 0x8000) << 16) | 0x7f800000 | (mant << 13)) >>> 0;
      }
    } else {
      t[h] = sign * 2 ** (exp - 15) * (1 + mant / 1024);
    }
  }
  f16Table = t;
  return t;
}

/** IEEE binary16 bit patterns -> float32 (exact). */
export function f16BitsToFloat32(b: Uint16Array): Float32Array {
  const t = halfTable();
  const out = new Float32Array(b.length);
  // Copy via the bit view so NaN payloads are not canonicalised by a float store.
  const tu = new Uint32Array(t.buffer);
  const ou = new Uint32Array(out.buffer);
  for (let i = 0; i < b.length; i++) ou[i] = tu[b[i]];
  return out;
}

/** First NaN or +-Inf in `data`, or undefined when every value is finite. */
export function findNonFinite(data: Float32Array | Float64Array): { index: number; value: number } | undefined {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    // v - v is NaN exactly for NaN and +-Inf: one cheap test per element.
    if (v - v !== 0) return { index: i, value: v };
  }
  return undefined;
}

/** Largest finite value of each half-width float dtype. */
export const HALF_DTYPE_MAX: Readonly<Record<'F16' | 'BF16', number>> = { F16: 65504, BF16: 3.3895313892515355e38 };

/**
 * Throws a clear Error naming `label` and `dtype` when converting finite float32 `source` gave `bits`
 * holding +-Inf (or NaN): the value was beyond what the dtype holds (|x| >= 65520 for F16, near
 * float32's own limit for BF16). Every loader refuses non-finite weights, so such a file would be
 * written but never read back.
 */
export function assertFiniteHalf(bits: Uint16Array, dtype: 'F16' | 'BF16', source: Float32Array, label: string): void {
  // The exponent field all ones means Inf or NaN in both formats.
  const expMask = dtype === 'F16' ? 0x7c00 : 0x7f80;
  let first = -1;
  let count = 0;
  for (let i = 0; i < bits.length; i++) {
    if ((bits[i] & expMask) !== expMask) continue;
    if (first < 0) first = i;
    count++;
  }
  if (first < 0) return;
  throw new Error(
    `${label} cannot be saved as ${dtype}: ${count} value(s) overflow to +-Inf, first ${source[first]} at flat index ${first} ` +
      `(largest finite ${dtype} is ${HALF_DTYPE_MAX[dtype]}); save as F32 or rescale`,
  );
}

/**
 * Throws a clear Error naming `label` when `data` holds a NaN or an Inf (weights must be finite).
 * @param label what the data is, e.g. `tensor h.0.attn.c_attn.weight in /m/model.safetensors`
 */
export function assertFinite(data: Float32Array | Float64Array, label: string): void {
  const bad = findNonFinite(data);
  if (!bad) return;
  let count = 0;
  for (let i = bad.index; i < data.length; i++) if (data[i] - data[i] !== 0) count++;
  const what = Number.isNaN(bad.value) ? 'NaN' : bad.value > 0 ? 'Inf' : '-Inf';
  throw new Error(`${label}: contains ${count} non-finite value(s), first ${what} at flat index ${bad.index}`);
}
