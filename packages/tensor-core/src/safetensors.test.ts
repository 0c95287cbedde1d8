import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  MAX_HEADER_BYTES,
  openCheckpointWeights,
  openSafetensors,
  readFiniteFloat,
  writeSafetensors,
} from './safetensors';
import { bf16BitsToFloat32, f16BitsToFloat32, float32ToBf16Bits, float32ToF16Bits } from './dtypes';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'st-test-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Builds a raw safetensors file from a header object (or raw header text) and a data region. */
function rawFile(name: string, header: unknown, data: Uint8Array | number, lengthOverride?: bigint): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthOverride ?? BigInt(json.length));
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const file = path.join(dir, name);
  fs.writeFileSync(file, Buffer.concat([len, json, Buffer.from(body)]));
  return file;
}

function f32(...v: number[]): Float32Array {
  return Float32Array.from(v);
}

describe('safetensors round trips', () => {
  it('F32 is bitwise identical, with metadata and 8-byte aligned data', () => {
    const a = f32(1, -2.5, 3.14159, 1e-30, -0, 65504.5, 1.17549435e-38);
    const b = new Float32Array(12).map((_, i) => Math.sin(i) * 1e3);
    const file = path.join(dir, 'x.safetensors');
    writeSafetensors(
      file,
      [
        { name: 'a', shape: [7], data: a },
        { name: 'b.weight', shape: [3, 4], data: b },
        { name: 'empty', shape: [0, 5], data: new Float32Array(0) },
      ],
      { metadata: { format: 'pt' } },
    );
    const buf = fs.readFileSync(file);
    expect(Number(buf.readBigUInt64LE(0)) % 8).toBe(0);
    const src = openSafetensors(file);
    expect(src.names()).toEqual(['a', 'b.weight', 'empty']);
    expect(src.metadata).toEqual({ format: 'pt' });
    expect(src.entry('b.weight')).toEqual({ name: 'b.weight', dtype: 'F32', shape: [3, 4], file });
    const ra = src.read('a');
    expect(ra.dtype).toBe('F32');
    expect(Buffer.from((ra.data as Float32Array).buffer)).toEqual(Buffer.from(a.buffer));
    expect(Array.from(src.read('b.weight').data as Float32Array)).toEqual(Array.from(b));
    expect(src.read('empty').shape).toEqual([0, 5]);
    src.close();
    expect(() => src.read('a')).toThrow(/closed/);
    // no temp files left behind
    expect(fs.readdirSync(dir)).toEqual(['x.safetensors']);
  });

  it('BF16 and F16 read back equal to the rounded values', () => {
    const x = new Float32Array(64).map((_, i) => (i - 32) * 0.7351 + 1 / (i + 1));
    for (const dtype of ['BF16', 'F16'] as const) {
      const file = path.join(dir, `${dtype}.safetensors`);
      writeSafetensors(file, [{ name: 'w', shape: [8, 8], data: x }], { dtype });
      const src = openSafetensors(file);
      const t = src.read('w');
      expect(t.dtype).toBe(dtype);
      const rounded = dtype === 'BF16' ? bf16BitsToFloat32(float32ToBf16Bits(x)) : f16BitsToFloat32(float32ToF16Bits(x));
      expect(Array.from(t.data as Float32Array)).toEqual(Array.from(rounded));
      // Rounding really happened (the values are not representable exactly) yet stays close.
      expect(Array.from(t.data as Float32Array)).not.toEqual(Array.from(x));
      for (let i = 0; i < x.length; i++) {
        expect(Math.abs((t.data as Float32Array)[i] - x[i])).toBeLessThanOrEqual(Math.abs(x[i]) * (dtype === 'BF16' ? 2 ** -8 : 2 ** -11) + 1e-7);
      }
      src.close();
    }
  });

  it('reads integer, bool and F64 dtypes', () => {
    const i64 = new BigInt64Array([1n, -2n, 9007199254740993n]);
    const i32 = new Int32Array([7, -8]);
    const i16 = new Int16Array([-300, 300]);
    const i8 = new Int8Array([-1, 2]);
    const u8 = new Uint8Array([255, 0]);
    const bool = new Uint8Array([1, 0, 1]);
    const f64 = new Float64Array([0.1, -1e10]);
    const parts: [string, string, number[], ArrayBufferView][] = [
      ['f64', 'F64', [2], f64],
      ['i64', 'I64', [3], i64],
      ['i32', 'I32', [2], i32],
      ['i16', 'I16', [2], i16],
      ['i8', 'I8', [2], i8],
      ['u8', 'U8', [2], u8],
      ['bool', 'BOOL', [3], bool],
    ];
    const header: Record<string, unknown> = {};
    const chunks: Buffer[] = [];
    let off = 0;
    for (const [name, dtype, shape, arr] of parts) {
      header[name] = { dtype, shape, data_offsets: [off, off + arr.byteLength] };
      chunks.push(Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength));
      off += arr.byteLength;
    }
    const src = openSafetensors(rawFile('ints.safetensors', header, Buffer.concat(chunks)));
    expect(Array.from(src.read('f64').data as Float32Array)).toEqual(Array.from(Float32Array.from(f64)));
    expect(src.read('i64').data).toEqual(i64);
    expect(src.read('i32').data).toEqual(i32);
    expect(src.read('i16').data).toEqual(i16);
    expect(src.read('i8').data).toEqual(i8);
    expect(src.read('u8').data).toEqual(u8);
    expect(src.read('bool').data).toEqual(bool);
    src.close();
  });

  it('reads only the asked tensor (position-based reads)', () => {
    const file = path.join(dir, 'lazy.safetensors');
    writeSafetensors(file, [
      { name: 'a', shape: [2], data: f32(1, 2) },
      { name: 'b', shape: [2], data: f32(3, 4) },
    ]);
    const src = openSafetensors(file);
    // Cut b's bytes off after opening: a must still read, b must fail at its own offset.
    fs.truncateSync(file, fs.statSync(file).size - 8);
    expect(Array.from(src.read('a').data as Float32Array)).toEqual([1, 2]);
    expect(() => src.read('b')).toThrow(/unexpected end of file while reading tensor "b"/);
    src.close();
  });

  it('refuses a non-float data array or wrong element count when writing', () => {
    const file = path.join(dir, 'w.safetensors');
    expect(() => writeSafetensors(file, [{ name: 'a', shape: [3], data: f32(1, 2) }])).toThrow(/3 elements but data has 2/);
    expect(() =>
      writeSafetensors(file, [
        { name: 'a', shape: [1], data: f32(1) },
        { name: 'a', shape: [1], data: f32(1) },
      ]),
    ).toThrow(/duplicate tensor name "a"/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('refuses NaN / Inf weights and values the half dtypes cannot hold, naming tensor and dtype, writing nothing', () => {
    const file = path.join(dir, 'w.safetensors');
    const ok = { name: 'ok', shape: [2], data: f32(1, 2) };
    for (const dtype of ['F32', 'F16', 'BF16'] as const) {
      expect(() => writeSafetensors(file, [ok, { name: 'w.nan', shape: [3], data: f32(1, NaN, 2) }], { dtype })).toThrow(
        /tensor "w\.nan".*non-finite.*NaN at flat index 1/,
      );
      expect(() => writeSafetensors(file, [{ name: 'w.inf', shape: [1], data: f32(-Infinity) }], { dtype })).toThrow(/tensor "w\.inf".*-Inf/);
    }
    // 65504 is the largest half; 65519 still rounds down to it, 65520 rounds to Inf.
    writeSafetensors(file, [{ name: 'edge', shape: [2], data: f32(65504, -65519) }], { dtype: 'F16' });
    expect(Array.from(openSafetensors(file).read('edge').data as Float32Array)).toEqual([65504, -65504]);
    fs.rmSync(file);
    expect(() => writeSafetensors(file, [ok, { name: 'big', shape: [3], data: f32(0, 70000, -65520) }], { dtype: 'F16' })).toThrow(
      /tensor "big" cannot be saved as F16: 2 value\(s\) overflow to \+-Inf, first 70000 at flat index 1 \(largest finite F16 is 65504\)/,
    );
    // F32 and BF16 hold 70000; BF16 overflows only near float32's own limit.
    writeSafetensors(file, [{ name: 'big', shape: [1], data: f32(70000) }], { dtype: 'BF16' });
    expect(() => writeSafetensors(file, [{ name: 'huge', shape: [1], data: f32(3.4e38) }], { dtype: 'BF16' })).toThrow(
      /tensor "huge" cannot be saved as BF16: 1 value\(s\) overflow/,
    );
    fs.rmSync(file);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe('safetensors bad input', () => {
  const good = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };

  it('truncated file (shorter than 8 bytes)', () => {
    const file = path.join(dir, 't.safetensors');
    fs.writeFileSync(file, Buffer.from([1, 2, 3]));
    expect(() => openSafetensors(file)).toThrow(new RegExp(`${file}.*truncated`));
  });

  it('a directory or a missing file', () => {
    expect(() => openSafetensors(dir)).toThrow(/not a regular file/);
    expect(() => openSafetensors(path.join(dir, 'none.safetensors'))).toThrow(/none\.safetensors: cannot open \(ENOENT/);
  });

  it('header length beyond the file', () => {
    const file = rawFile('h.safetensors', good, 8, 5000n);
    expect(() => openSafetensors(file)).toThrow(/h\.safetensors: header length 5000 bytes reaches beyond the end of the file/);
  });

  it('enormous header length is refused before allocating', () => {
    const file = rawFile('big.safetensors', good, 8, 0xffffffffffffn);
    // Allocating 2^48 bytes would throw a RangeError instead: our message proves the check came first.
    expect(() => openSafetensors(file)).toThrow(/big\.safetensors: header length 281474976710655 bytes exceeds the .*limit/);
    const justOver = rawFile('big2.safetensors', good, 8, BigInt(MAX_HEADER_BYTES + 1));
    expect(() => openSafetensors(justOver)).toThrow(/exceeds/);
  });

  it('invalid header JSON', () => {
    expect(() => openSafetensors(rawFile('j.safetensors', '{"a": {"dtype": ', 0))).toThrow(/j\.safetensors: header is not valid JSON/);
    expect(() => openSafetensors(rawFile('arr.safetensors', '[1,2]', 0))).toThrow(/header is not a JSON object/);
  });

  it('entry missing fields or with bad shapes', () => {
    expect(() => openSafetensors(rawFile('m1.safetensors', { a: { shape: [2], data_offsets: [0, 8] } }, 8))).toThrow(
      /tensor "a" is missing "dtype"/,
    );
    expect(() => openSafetensors(rawFile('m2.safetensors', { a: { dtype: 'F32', data_offsets: [0, 8] } }, 8))).toThrow(
      /tensor "a" is missing "shape"/,
    );
    expect(() => openSafetensors(rawFile('m3.safetensors', { a: { dtype: 'F32', shape: [2] } }, 8))).toThrow(
      /tensor "a" is missing "data_offsets"/,
    );
    expect(() =>
      openSafetensors(rawFile('m4.safetensors', { a: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, 8)),
    ).toThrow(/invalid shape \[-2\]/);
    expect(() =>
      openSafetensors(rawFile('m5.safetensors', { a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 8] } }, 8)),
    ).toThrow(/invalid shape/);
    expect(() => openSafetensors(rawFile('m6.safetensors', { a: 3 }, 0))).toThrow(/entry for tensor "a" is not an object/);
    expect(() =>
      openSafetensors(rawFile('m7.safetensors', { ...good, __metadata__: { format: 1 } }, 8)),
    ).toThrow(/__metadata__ value for "format" is not a string/);
    expect(() =>
      openSafetensors(rawFile('m8.safetensors', { a: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, 8)),
    ).toThrow(/invalid data_offsets/);
  });

  it('unknown dtype', () => {
    const file = rawFile('d.safetensors', { a: { dtype: 'F8_E4M3', shape: [2], data_offsets: [0, 2] } }, 2);
    expect(() => openSafetensors(file)).toThrow(/d\.safetensors: tensor "a" has unknown or unsupported dtype "F8_E4M3"/);
  });

  it('overlapping offsets', () => {
    const header = {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    };
    expect(() => openSafetensors(rawFile('o.safetensors', header, 12))).toThrow(/o\.safetensors: tensor "b" .*overlap tensor "a"/);
  });

  it('out of order with gaps', () => {
    const header = {
      a: { dtype: 'F32', shape: [2], data_offsets: [16, 24] },
      b: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    };
    expect(() => openSafetensors(rawFile('g.safetensors', header, 24))).toThrow(/g\.safetensors: gap in the data region: bytes \[8, 16\)/);
  });

  it('out of order without gaps is fine', () => {
    const data = new Float32Array([1, 2, 3, 4]);
    const header = {
      a: { dtype: 'F32', shape: [2], data_offsets: [8, 16] },
      b: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    };
    const src = openSafetensors(rawFile('ok.safetensors', header, new Uint8Array(data.buffer)));
    expect(Array.from(src.read('a').data as Float32Array)).toEqual([3, 4]);
    src.close();
  });

  it('offsets beyond the data, or not covering it', () => {
    const beyond = { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } };
    expect(() => openSafetensors(rawFile('b.safetensors', beyond, 8))).toThrow(
      /b\.safetensors: tensor "a" data_offsets \[0, 16\] reach beyond the data region of 8 bytes/,
    );
    expect(() => openSafetensors(rawFile('c.safetensors', good, 12))).toThrow(/cover 8 bytes but the data region has 12/);
  });

  it('shape x dtype size not matching the byte range', () => {
    const header = { a: { dtype: 'F16', shape: [3], data_offsets: [0, 8] } };
    expect(() => openSafetensors(rawFile('s.safetensors', header, 8))).toThrow(
      /s\.safetensors: tensor "a" shape \[3\] x F16 \(2 bytes\) needs 6 bytes but data_offsets \[0, 8\] give 8/,
    );
  });

  it('NaN / Inf in float weights are named', () => {
    const file = path.join(dir, 'nan.safetensors');
    writeSafetensors(file, [
      { name: 'ok', shape: [2], data: f32(1, 2) },
      { name: 'bad.weight', shape: [3], data: f32(1, NaN, 3) },
      { name: 'inf.weight', shape: [2], data: f32(-Infinity, 0) },
    ], { dtype: 'BF16', allowNonFinite: true });
    const src = openSafetensors(file);
    expect(Array.from(readFiniteFloat(src, 'ok').data)).toEqual([1, 2]);
    expect(() => readFiniteFloat(src, 'bad.weight')).toThrow(/tensor "bad.weight" in .*nan\.safetensors: contains 1 non-finite value\(s\), first NaN at flat index 1/);
    expect(() => readFiniteFloat(src, 'inf.weight')).toThrow(/tensor "inf.weight" .*first -Inf at flat index 0/);
    src.close();
  });

  it('readFiniteFloat refuses integer tensors', () => {
    const src = openSafetensors(rawFile('int.safetensors', { i: { dtype: 'I32', shape: [2], data_offsets: [0, 8] } }, 8));
    expect(() => readFiniteFloat(src, 'i')).toThrow(/tensor "i" in .*int\.safetensors: expected a floating dtype, found I32/);
    src.close();
  });

  it('missing tensor and missing checkpoint are named', () => {
    const file = rawFile('n.safetensors', good, 8);
    const src = openSafetensors(file);
    expect(() => src.read('zzz')).toThrow(/n\.safetensors: no tensor named "zzz"/);
    src.close();
    const empty = fs.mkdtempSync(path.join(dir, 'empty-'));
    expect(() => openCheckpointWeights(empty)).toThrow(/neither model.safetensors nor model.safetensors.index.json/);
  });
});

describe('sharded checkpoints', () => {
  function makeSharded(weightMap: Record<string, string>): string {
    const model = path.join(dir, 'model');
    fs.mkdirSync(model);
    writeSafetensors(path.join(model, 'model-00001-of-00002.safetensors'), [
      { name: 'a', shape: [2], data: f32(1, 2) },
    ]);
    writeSafetensors(path.join(model, 'model-00002-of-00002.safetensors'), [
      { name: 'b', shape: [1, 2], data: f32(3, 4) },
    ]);
    fs.writeFileSync(
      path.join(model, 'model.safetensors.index.json'),
      JSON.stringify({ metadata: { total_size: 16 }, weight_map: weightMap }),
    );
    return model;
  }

  it('reads tensors across shards', () => {
    const model = makeSharded({ a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' });
    const src = openCheckpointWeights(model);
    expect(src.names().sort()).toEqual(['a', 'b']);
    expect(src.files).toHaveLength(2);
    expect(src.entry('b').file).toBe(path.join(model, 'model-00002-of-00002.safetensors'));
    expect(Array.from(src.read('b').data as Float32Array)).toEqual([3, 4]);
    expect(Array.from(src.read('a').data as Float32Array)).toEqual([1, 2]);
    src.close();
  });

  it('refuses a shard named ../x', () => {
    fs.writeFileSync(path.join(dir, 'x'), '');
    const model = makeSharded({ a: '../x' });
    expect(() => openCheckpointWeights(model)).toThrow(/index\.json: shard "\.\.\/x" \(for "a"\) points outside the model directory/);
  });

  it('refuses an absolute shard path', () => {
    const abs = path.join(dir, 'abs.safetensors');
    writeSafetensors(abs, [{ name: 'a', shape: [1], data: f32(1) }]);
    const model = makeSharded({ a: abs });
    expect(() => openCheckpointWeights(model)).toThrow(/shard ".*abs\.safetensors" \(for "a"\) is an absolute path/);
  });

  it('refuses a symlink leading out of the model directory', () => {
    const outside = path.join(dir, 'outside.safetensors');
    writeSafetensors(outside, [{ name: 'a', shape: [1], data: f32(1) }]);
    const model = makeSharded({ a: 'link.safetensors' });
    fs.symlinkSync(outside, path.join(model, 'link.safetensors'));
    expect(() => openCheckpointWeights(model)).toThrow(/resolves to .*outside\.safetensors, outside the model directory/);
  });

  it('refuses a tensor mapped to a shard that lacks it', () => {
    const model = makeSharded({ a: 'model-00002-of-00002.safetensors' });
    expect(() => openCheckpointWeights(model)).toThrow(/maps "a" to shard "model-00002-of-00002.safetensors", which does not contain it/);
  });

  it('prefers model.safetensors over an index and accepts file paths', () => {
    const model = makeSharded({ a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' });
    writeSafetensors(path.join(model, 'model.safetensors'), [{ name: 'single', shape: [1], data: f32(9) }]);
    const src = openCheckpointWeights(model);
    expect(src.names()).toEqual(['single']);
    src.close();
    const viaIndex = openCheckpointWeights(path.join(model, 'model.safetensors.index.json'));
    expect(viaIndex.names().sort()).toEqual(['a', 'b']);
    expect(() => readFiniteFloat(viaIndex, 'zzz')).toThrow(/index\.json: no tensor named "zzz" in weight_map/);
    viaIndex.close();
    expect(() => openCheckpointWeights(path.join(dir, 'nope'))).toThrow(/checkpoint .*nope: no such file or directory/);
  });

  it('refuses an index without weight_map', () => {
    const model = path.join(dir, 'm2');
    fs.mkdirSync(model);
    fs.writeFileSync(path.join(model, 'model.safetensors.index.json'), '{"metadata": {}}');
    expect(() => openCheckpointWeights(model)).toThrow(/missing "weight_map"/);
  });
});

describe('real reference checkpoints', () => {
  const refRoot = path.resolve(__dirname, '../../../../shared/reference');
  for (const name of ['gpt2_tiny', 'llama_tiny']) {
    const modelDir = path.join(refRoot, name);
    const present = fs.existsSync(path.join(modelDir, 'model.safetensors'));
    (present ? it : it.skip)(`reads every tensor of ${name}`, () => {
      const src = openCheckpointWeights(modelDir);
      expect(src.names().length).toBeGreaterThan(10);
      let total = 0;
      for (const n of src.names()) {
        const t = readFiniteFloat(src, n);
        expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
        total += t.data.byteLength;
      }
      expect(total).toBe(fs.statSync(path.join(modelDir, 'model.safetensors')).size - 8 - Number(fs.readFileSync(path.join(modelDir, 'model.safetensors')).readBigUInt64LE(0)));
      // Re-save as F32 (bitwise equal) and BF16 (equal to the rounded values).
      const tensors = src.names().map((n) => ({ name: n, shape: src.entry(n).shape, data: src.read(n).data as Float32Array }));
      for (const dtype of ['F32', 'BF16'] as const) {
        const out = path.join(dir, `copy-${dtype}.safetensors`);
        writeSafetensors(out, tensors, { dtype, metadata: { format: 'pt' } });
        const back = openCheckpointWeights(out);
        expect(back.names()).toEqual(src.names());
        for (const t of tensors) {
          const got = back.read(t.name).data as Float32Array;
          const want = dtype === 'F32' ? t.data : bf16BitsToFloat32(float32ToBf16Bits(t.data));
          expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer, want.byteOffset, want.byteLength))).toBe(true);
        }
        back.close();
      }
      src.close();
    });
    if (!present) {
      // eslint-disable-next-line no-console
      console.log(`skipping ${name} reference checkpoint test: ${modelDir} is absent`);
    }
  }
});
