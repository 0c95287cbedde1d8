#!/usr/bin/env node
'use strict';
// Interleaved A/B of the addon's gemm() with the small-M kernel on and off (setGemmKernel), in one process, on
// one GPT-2-small forward's matmuls: 12 layers x 4 linears with their own weights (so weights stream from
// memory as in a real forward, bias included as the model's linears have one) plus the tied LM head (B^T).
// Usage: node native/bench/gemm-bench.js [reps=20] [T=32]
const path = require('path');
const m = require(path.join(__dirname, '..', 'build', 'Release', 'hiedit_blas.node'));
if (typeof m.setGemmKernel !== 'function') throw new Error('addon has no setGemmKernel: rebuild with node native/build.js');
const reps = Number(process.argv[2] || 20);
const T = Number(process.argv[3] || 32);
const D = 768, V = 50257, L = 12;
const best = m.gemmInfo().best;

// One heap like the wasm one: every operand at a 4-byte (not 64-byte) aligned offset.
const shapes = [[D, 3 * D], [D, D], [D, 4 * D], [4 * D, D]];
let floats = 1 + T * 4 * D + T * V + V * D + 4 * D;
for (let l = 0; l < L; l++) for (const [k, n] of shapes) floats += k * n + n;
const heap = new ArrayBuffer(floats * 4);
const f = new Float32Array(heap);
let s = 7;
for (let i = 0; i < f.length; i++) { s = (Math.imul(s, 1103515245) + 12345) >>> 0; f[i] = s / 4294967296 - 0.5; }
let at = 1;
const take = (n) => { const o = at * 4; at += n; return o; };
const x = take(T * 4 * D), out = take(T * V), emb = take(V * D);
const layers = [];
for (let l = 0; l < L; l++) layers.push(shapes.map(([k, n]) => ({ k, n, w: take(k * n), b: take(n) })));

function linear(k, n, w, b) { m.gemm(heap, false, false, T, n, k, 1, x, w, out, b, n, 0, 0); }
function head() { m.gemm(heap, false, true, T, V, D, 1, x, emb, out, -1, 0, 0, 0); }
const median = (a) => { const b = [...a].sort((p, q) => p - q); const h = b.length >> 1; return b.length % 2 ? b[h] : (b[h - 1] + b[h]) / 2; };
const now = () => Number(process.hrtime.bigint()) / 1e6;

const names = ['qkv', 'attn.proj', 'mlp.fc', 'mlp.proj'];
const t = { blas: { lin: [], head: [], per: names.map(() => []) }, [best]: { lin: [], head: [], per: names.map(() => []) } };
for (let r = 0; r < reps + 2; r++) {
  for (const kernel of r % 2 ? ['blas', best] : [best, 'blas']) {
    m.setGemmKernel(kernel);
    const per = names.map(() => 0);
    const t0 = now();
    for (const layer of layers) layer.forEach((w, j) => { const a = now(); linear(w.k, w.n, w.w, w.b); per[j] += now() - a; });
    const t1 = now();
    head();
    const t2 = now();
    if (r < 2) continue; // warm-up: page faults, thread start
    t[kernel].lin.push(t1 - t0); t[kernel].head.push(t2 - t1); per.forEach((v, j) => t[kernel].per[j].push(v));
  }
}
m.setGemmKernel('auto');
const row = (label, a, b) => console.log(`${label.padEnd(26)} blas ${median(a).toFixed(3).padStart(9)} ms   ${best} ${median(b).toFixed(3).padStart(9)} ms   ratio ${(median(b) / median(a)).toFixed(3)}`);
console.log(`T=${T}, ${reps} interleaved reps, OpenBLAS core ${m.info().core}, ${m.info().threads} threads; small-M kernel ${best}, ${m.gemmInfo().threads} threads`);
names.forEach((nm, j) => row(`${nm} (x12, sum)`, t.blas.per[j], t[best].per[j]));
row('48 linears', t.blas.lin, t[best].lin);
row('LM head (B^T)', t.blas.head, t[best].head);
row('48 linears + LM head', t.blas.lin.map((v, i) => v + t.blas.head[i]), t[best].lin.map((v, i) => v + t[best].head[i]));
