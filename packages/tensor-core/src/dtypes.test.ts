import { assertFinite, bf16BitsToFloat32, f16BitsToFloat32, findNonFinite, float32ToBf16Bits, float32ToF16Bits } from './dtypes';

function bitsOf(x: number): number {
  return new Uint32Array(Float32Array.of(x).buffer)[0];
}
function fromBits(u: number): number {
  return new Float32Array(Uint32Array.of(u).buffer)[0];
}

describe('bfloat16', () => {
  it('converts exact values and specials', () => {
    const x = Float32Array.of(0, -0, 1, -2, 0.5, Infinity, -Infinity, 3.0e38);
    const b = float32ToBf16Bits(x);
    expect(Array.from(b.slice(0, 7))).toEqual([0x0000, 0x8000, 0x3f80, 0xc000, 0x3f00, 0x7f80, 0xff80]);
    expect(Array.from(bf16BitsToFloat32(b).slice(0, 7))).toEqual([0, -0, 1, -2, 0.5, Infinity, -Infinity]);
  });

  it('rounds to nearest even', () => {
    // 1 + 2^-8 is exactly halfway between bf16 1 (even) and 1 + 2^-7: goes to 1.
    expect(float32ToBf16Bits(Float32Array.of(1 + 2 ** -8))[0]).toBe(0x3f80);
    // 1 + 3*2^-8 is halfway between 1+2^-7 (odd mantissa 1) and 1+2^-6 (even): goes up.
    expect(float32ToBf16Bits(Float32Array.of(1 + 3 * 2 ** -8))[0]).toBe(0x3f82);
    // Slightly above half rounds up.
    expect(float32ToBf16Bits(Float32Array.of(fromBits(0x3f808001)))[0]).toBe(0x3f81);
    expect(float32ToBf16Bits(Float32Array.of(fromBits(0x3f807fff)))[0]).toBe(0x3f80);
    // Largest finite float rounds to Inf.
    expect(float32ToBf16Bits(Float32Array.of(fromBits(0x7f7fffff)))[0]).toBe(0x7f80);
  });

  it('keeps NaN a NaN, even with a low-bit payload', () => {
    const nanLow = fromBits(0x7f800001);
    const b = float32ToBf16Bits(Float32Array.of(NaN, nanLow));
    expect(Number.isNaN(bf16BitsToFloat32(b)[0])).toBe(true);
    expect(Number.isNaN(bf16BitsToFloat32(b)[1])).toBe(true);
  });

  it('round trips every bf16 value exactly', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = float32ToBf16Bits(bf16BitsToFloat32(all));
    for (let i = 0; i < 65536; i++) {
      const isNaN = (i & 0x7f80) === 0x7f80 && (i & 0x7f) !== 0;
      if (isNaN) expect((back[i] & 0x7f80) === 0x7f80 && (back[i] & 0x7f) !== 0).toBe(true);
      else if (back[i] !== i) throw new Error(`bf16 ${i.toString(16)} -> ${back[i].toString(16)}`);
    }
  });
});

describe('float16', () => {
  it('converts exact values, subnormals and specials', () => {
    const x = Float32Array.of(0, -0, 1, -2, 65504, 2 ** -14, 2 ** -24, -(2 ** -24) * 3, Infinity, -Infinity, 1e6);
    const h = float32ToF16Bits(x);
    expect(Array.from(h)).toEqual([0x0000, 0x8000, 0x3c00, 0xc000, 0x7bff, 0x0400, 0x0001, 0x8003, 0x7c00, 0xfc00, 0x7c00]);
    expect(Array.from(f16BitsToFloat32(h).slice(0, 10))).toEqual(Array.from(x.slice(0, 10)));
  });

  it('rounds to nearest even, including subnormals and overflow', () => {
    // halfway between 1 and 1+2^-10 -> 1 (even)
    expect(float32ToF16Bits(Float32Array.of(1 + 2 ** -11))[0]).toBe(0x3c00);
    // halfway between 1+2^-10 and 1+2^-9 -> 1+2^-9 (even)
    expect(float32ToF16Bits(Float32Array.of(1 + 3 * 2 ** -11))[0]).toBe(0x3c02);
    // 2^-25 is halfway between 0 and the smallest subnormal -> 0; a bit more -> smallest subnormal
    expect(float32ToF16Bits(Float32Array.of(2 ** -25))[0]).toBe(0x0000);
    expect(float32ToF16Bits(Float32Array.of(2 ** -25 * 1.0001))[0]).toBe(0x0001);
    // 3 * 2^-25 is halfway between subnormals 1 and 2 -> 2 (even)
    expect(float32ToF16Bits(Float32Array.of(3 * 2 ** -25))[0]).toBe(0x0002);
    // just below the smallest normal rounds up into it
    expect(float32ToF16Bits(Float32Array.of(2 ** -14 - 2 ** -30))[0]).toBe(0x0400);
    // 65520 is halfway between 65504 and 65536 (overflow) -> Inf; just below -> max
    expect(float32ToF16Bits(Float32Array.of(65520))[0]).toBe(0x7c00);
    expect(float32ToF16Bits(Float32Array.of(65519))[0]).toBe(0x7bff);
    expect(float32ToF16Bits(Float32Array.of(1e-10))[0]).toBe(0x0000);
  });

  it('keeps NaN a NaN', () => {
    const h = float32ToF16Bits(Float32Array.of(NaN, fromBits(0xff800001)));
    expect(h[0] & 0x7c00).toBe(0x7c00);
    expect(h[0] & 0x3ff).not.toBe(0);
    expect(h[1] & 0x8000).toBe(0x8000);
    expect(Number.isNaN(f16BitsToFloat32(h)[1])).toBe(true);
  });

  it('round trips every f16 value exactly and matches a reference decoder', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const f = f16BitsToFloat32(all);
    const back = float32ToF16Bits(f);
    for (let i = 0; i < 65536; i++) {
      const exp = (i >> 10) & 0x1f;
      const mant = i & 0x3ff;
      if (exp === 31 && mant !== 0) {
        if (!Number.isNaN(f[i])) throw new Error(`f16 ${i} should decode to NaN`);
        continue;
      }
      const s = i & 0x8000 ? -1 : 1;
      const ref = exp === 0 ? s * mant * 2 ** -24 : exp === 31 ? s * Infinity : s * 2 ** (exp - 15) * (1 + mant / 1024);
      if (!Object.is(f[i], ref)) throw new Error(`f16 ${i}: ${f[i]} != ${ref}`);
      if (back[i] !== i) throw new Error(`f16 ${i} -> ${back[i]}`);
    }
    expect(bitsOf(f[0x3c00])).toBe(0x3f800000);
  });
});

describe('finite checks', () => {
  it('finds NaN and Inf and names the label', () => {
    expect(findNonFinite(Float32Array.of(1, 2))).toBeUndefined();
    expect(findNonFinite(Float32Array.of(1, Infinity, NaN))).toEqual({ index: 1, value: Infinity });
    expect(() => assertFinite(Float32Array.of(0, NaN, NaN), 'tensor "w"')).toThrow(
      'tensor "w": contains 2 non-finite value(s), first NaN at flat index 1',
    );
    expect(() => assertFinite(Float32Array.of(1, 2), 'x')).not.toThrow();
  });
});
