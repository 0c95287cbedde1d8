/**
 * Single-edit locality probe: how local can ONE edit of a given module set be on a world model, whatever the editor?
 *
 * For each of the first N edit requests of a world, starting from the unedited model every time, a candidate shift
 * direction is scaled to the smallest strength that makes the edit hold on its prompt (rl-hierarchy's calibration,
 * margin 0, strengths 2^-20..2^20), applied, and measured: does it hold, do its paraphrases follow (all answer tokens
 * argmax), how many of its own locality answers stay (neighbourhood + unrelated prompts, what LS measures), and how
 * many answers of the locality prompts of the OTHER requests change. An edit stream of L such edits keeps roughly
 * (1 - other)^L of the unrelated answers, so a direction that changes 2% per edit cannot keep locality over 81 edits.
 *
 * Directions: the plain gradient -K^T G of the module set (what an untrained MEND-style network proposes), the
 * key-preconditioned one (C + lambda tr(C)/d I)^-1 K^T G with C the second moment of the module's inputs over the
 * other requests' locality prompts (over every position, the answer positions only, or ROME's subject-last-token
 * row). Run on tuning worlds only (default --world-seed 1).
 *
 *   node tools/edit-locality.js [worldSeed=1] [N=15]
 */
import * as path from 'path';
import { initBackend, tf, type EditableModel, type ParameterShift, type TokenizedTuple } from '@hiedit/tensor-core';
import { loadModel, tokenizeTuple, type Tokenizer } from '@hiedit/llm-loader';
import { calibrateScale, estimateKeyCovariances, preconditionerInverse, type CalibrationSettings } from '@hiedit/rl-hierarchy';
import { ensureWorldModel, loadDataset, type EditRequest } from '@hiedit/benchmarks';

const CAL: CalibrationSettings = { minStrength: 2 ** -20, maxStrength: 2 ** 20, margin: 0, tolerance: 0.25, onMiss: 'skip' };

type Direction = (r: EditRequest) => Map<string, ParameterShift>;

function argmaxAll(model: EditableModel, tuples: TokenizedTuple[], shifts: ReadonlyMap<string, tf.Tensor2D>): number[] {
  const out: number[] = [];
  for (let i = 0; i < tuples.length; i += 128) {
    const t = tf.tidy(() => tf.argMax(model.logProbsUnderShifts(tuples.slice(i, i + 128), shifts), 1));
    out.push(...(t.dataSync() as Int32Array));
    t.dispose();
  }
  return out;
}

const labelsOf = (t: TokenizedTuple) => t.labels.filter((l) => l !== -100);

export async function main(argv: string[]): Promise<void> {
  const worldSeed = Number(argv[0] ?? 1);
  const N = Number(argv[1] ?? 15);
  await initBackend();
  const wm = await ensureWorldModel({ world: { seed: worldSeed } });
  const model = await loadModel(wm.modelDir);
  const tok = model.tokenizer as Tokenizer;
  const reqs = loadDataset(path.join(wm.worldDir, 'edits.json')).requests;
  const T = (p: string, a: string) => tokenizeTuple(tok, p, a);
  const L = model.config.numLayers;
  const names = (suffixes: string[], layers: number[]) => layers.flatMap((l) => suffixes.map((s) => `model.layers.${l}.mlp.${s}`));
  const probes = reqs.slice(N).flatMap((r) => r.locality.map((l) => T(l.prompt, l.answer)));
  const probeBase = argmaxAll(model, probes, new Map());

  const gradient = (mods: string[], positions: 'all' | 'ans' = 'all'): Direction => (r) => {
    const tr = model.trace(T(r.prompt, r.target), mods, positions);
    const out = new Map<string, ParameterShift>();
    for (const [n, f] of tr.features) {
      out.set(n, { kind: 'dense', delta: tf.tidy(() => tf.neg(tf.matMul(f.keys, f.valueGrads, true, false)) as tf.Tensor2D) });
      f.keys.dispose();
      f.valueGrads.dispose();
    }
    return out;
  };
  // C over the other requests' locality prompts, the population whose answers the edit should leave alone
  // (rl-hierarchy's estimator and inverse, as the policy's preconditioner computes them).
  const inverses = new Map<string, tf.Tensor2D>();
  const inverse = (n: string, lambda: number): tf.Tensor2D => {
    const key = `${n}@${lambda}`;
    if (!inverses.has(key)) {
      const d = model.module(n).dIn;
      const cov = estimateKeyCovariances(model, [n], probes).get(n)!;
      inverses.set(key, tf.tensor2d(preconditionerInverse(cov, d, lambda), [d, d]));
    }
    return inverses.get(key)!;
  };
  const preconditioned = (mods: string[], lambda: number, positions: 'all' | 'ans' = 'all'): Direction => (r) => {
    const g = gradient(mods, positions)(r);
    for (const [n, s] of g) {
      const delta = (s as { delta: tf.Tensor2D }).delta;
      const inv = inverse(n, lambda); // cached: made outside any tidy
      g.set(n, { kind: 'dense', delta: tf.tidy(() => tf.matMul(inv, delta)) });
      delta.dispose();
    }
    return g;
  };

  // Rows of the trace at the subject's last token (ROME's key position): the last occurrence of the subject's ids.
  const subjectLast = (r: EditRequest): number | undefined => {
    if (!r.subject) return undefined;
    const ids = T(r.prompt, r.target).ids;
    for (const sub of [tok.encode(' ' + r.subject), tok.encode(r.subject)]) {
      for (let end = ids.length - 1; end >= sub.length - 1 && sub.length > 0; end--) {
        if (sub.every((t, j) => ids[end - sub.length + 1 + j] === t)) return end;
      }
    }
    return undefined;
  };
  const subjectRows = (mods: string[], lambda: number): Direction => (r) => {
    const row = subjectLast(r);
    const tr = model.trace(T(r.prompt, r.target), mods, 'all');
    const out = new Map<string, ParameterShift>();
    for (const [n, f] of tr.features) {
      const inv = inverse(n, lambda);
      out.set(n, { kind: 'dense', delta: tf.tidy((): tf.Tensor2D => {
        const k = row === undefined ? f.keys : tf.slice(f.keys, [row, 0], [1, -1]);
        const g = row === undefined ? f.valueGrads : tf.slice(f.valueGrads, [row, 0], [1, -1]);
        return tf.neg(tf.matMul(inv, tf.matMul(k, g, true, false))) as tf.Tensor2D;
      }) });
      f.keys.dispose();
      f.valueGrads.dispose();
    }
    return out;
  };
  const upper = [L - 2, L - 1];
  const candidates: [string, Direction][] = [
    [`gradient, gate+up of layers ${upper.join(',')}`, gradient(names(['gate_proj', 'up_proj'], upper))],
    ...Array.from({ length: L }, (_, l) => [`gradient, down_proj of layer ${l}`, gradient(names(['down_proj'], [l]))] as [string, Direction]),
    [`gradient, down_proj of layers ${upper.join(',')}`, gradient(names(['down_proj'], upper))],
    [`preconditioned (1e-3), down_proj of layers ${upper.join(',')}`, preconditioned(names(['down_proj'], upper), 1e-3)],
    [`preconditioned (1e-3), down_proj of layer ${L - 1}`, preconditioned(names(['down_proj'], [L - 1]), 1e-3)],
    [`preconditioned (1e-3, ans), down_proj of layers ${upper.join(',')}`, preconditioned(names(['down_proj'], upper), 1e-3, 'ans')],
    [`preconditioned (1e-4), down_proj of layers ${upper.join(',')}`, preconditioned(names(['down_proj'], upper), 1e-4)],
    [`preconditioned (1e-4, ans), down_proj of layers ${upper.join(',')}`, preconditioned(names(['down_proj'], upper), 1e-4, 'ans')],
    [`preconditioned (1e-3), down_proj of layer ${L - 2}`, preconditioned(names(['down_proj'], [L - 2]), 1e-3)],
    [`preconditioned (1e-3), subject's last token only, down_proj of layer ${L - 2}`, subjectRows(names(['down_proj'], [L - 2]), 1e-3)],
    [`preconditioned (1e-3), subject's last token only, down_proj of layer ${L - 3}`, subjectRows(names(['down_proj'], [L - 3]), 1e-3)],
    [`preconditioned (1e-5), down_proj of layers ${upper.join(',')}`, preconditioned(names(['down_proj'], upper), 1e-5)],
    [`preconditioned (1e-6), down_proj of layers ${upper.join(',')}`, preconditioned(names(['down_proj'], upper), 1e-6)],
  ];
  console.log(`world seed ${worldSeed}: ${N} edits from the unedited model; ${probes.length} locality prompts of other requests`);
  console.log('direction | holds | paraphrases follow | own locality kept | other answers changed per edit | 81 such edits keep');
  for (const [name, make] of candidates) {
    let holds = 0, para = 0, own = 0, other = 0;
    for (const r of reqs.slice(0, N)) {
      const shifts = make(r);
      const c = calibrateScale(model, T(r.prompt, r.target), shifts, CAL);
      const dense = new Map([...shifts].map(([n, s]) => [n, tf.tidy(() => tf.mul((s as { delta: tf.Tensor2D }).delta, c.scale)) as tf.Tensor2D]));
      for (const s of shifts.values()) (s as { delta: tf.Tensor2D }).delta.dispose();
      if (c.holds) {
        holds++;
        for (const p of r.paraphrases) {
          const t = T(p, r.target);
          const a = argmaxAll(model, [t], dense);
          para += labelsOf(t).every((l, i) => a[i] === l) ? 1 / r.paraphrases.length : 0;
        }
        const loc = r.locality.map((l) => T(l.prompt, l.answer));
        const b0 = argmaxAll(model, loc, new Map());
        const b1 = argmaxAll(model, loc, dense);
        own += b0.filter((x, i) => x === b1[i]).length / b0.length;
        const after = argmaxAll(model, probes, dense);
        other += after.filter((x, i) => x !== probeBase[i]).length / after.length;
      }
      for (const d of dense.values()) d.dispose();
    }
    const h = Math.max(holds, 1);
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
    console.log(`${name} | ${holds}/${N} | ${pct(para / h)} | ${pct(own / h)} | ${pct(other / h)} | ${pct(Math.pow(1 - other / h, 81))}`);
  }
  for (const t of inverses.values()) t.dispose();
  model.dispose();
}
