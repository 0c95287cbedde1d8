/**
 * Diagnostic tool: how strongly an edit's loss reaches the edit modules of a model, and how much of it the final-logit
 * soft-cap lets through. Written to test why gradient edits of Gemma-2 world models rarely hold (docs/tuning.md,
 * session 10): MEND-style editors turn the gradient w.r.t. a module's outputs (the "value gradients") into a weight
 * shift, so anything that shrinks those gradients shrinks every edit.
 *
 * For the first N requests of FILE (a requests .jsonl or a world's edits.json; use a tuning world's, never world 0's)
 * and each model, it traces the edit tuple (prompt + new answer) through the given modules and reports, averaged over
 * the requests:
 * - loss: the edit tuple's cross-entropy before any edit;
 * - gradOut: Frobenius norm of the value gradients (all positions), gradW: of the weight gradient keys^T * gradOut,
 *   relW: gradW / |W|; outRms: RMS of the module's output at the traced positions;
 * - at the answer positions: the largest (soft-capped) logit, the new answer's logit, and `capPass`, the share of the
 *   cross-entropy's logit gradient that survives the cap: |(p - y) * tanh'| / |p - y| with tanh' = 1 - (logit / cap)^2
 *   (1 for a model without a final cap); rawMax: the largest logit before the cap (the model loaded without it);
 * - stepLoss: the edit loss after one step against the weight gradient of every listed module at once, each module's
 *   step scaled to r times its weight's norm, for r in STEP_SIZES (how far a gradient shift of these modules can
 *   move the answer at all: where a sublayer's output is normalized, the loss stops falling however large the step).
 *
 *   node tools/edit-gradients.js FILE N SUFFIX[,SUFFIX] LABEL=MODEL_DIR [LABEL=MODEL_DIR ...]
 *
 * SUFFIX is a module-name suffix such as mlp.down_proj; the modules are those of the default edit layers
 * (upperMiddleLayers). One JSON line per model and suffix on stdout.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, IGNORE_INDEX, type TokenizedTuple } from '@hiedit/tensor-core';
import { loadModel, tokenizeTuple, type CausalLM } from '@hiedit/llm-loader';
import { loadDataset, upperMiddleLayers, type EditorModel } from '@hiedit/editor';
import { prepareRequest } from '../packages/editor/src/editor';

/** Per-request numbers of one module set, averaged over its modules. */
interface ModuleStats { gradOut: number; gradW: number; relW: number; outRms: number }

/** Relative sizes |shift| / |W| of the gradient steps whose edit loss `stepLosses` reports. */
const STEP_SIZES = [0.1, 0.3, 1, 3, 10];

/** Logit statistics at the answer positions of one tuple. */
interface LogitStats { max: number; target: number; capPass: number }

function frobenius(t: tf.Tensor): number {
  return tf.tidy(() => tf.norm(t).dataSync()[0]);
}

/** Value-gradient and weight-gradient norms of `tuple` at `names`, averaged over the modules. */
function moduleStats(lm: CausalLM, tuple: TokenizedTuple, names: string[]): ModuleStats & { loss: number; steps: number[] } {
  const trace = lm.trace(tuple, names, 'all');
  const sum: ModuleStats = { gradOut: 0, gradW: 0, relW: 0, outRms: 0 };
  // Unit steps against the weight gradient, scaled per module to |W| (so STEP_SIZES are relative sizes).
  const units = new Map<string, tf.Tensor2D>();
  try {
    for (const n of names) {
      const { keys, valueGrads } = trace.features.get(n)!;
      const w = lm.readWeight(n);
      try {
        const gradW = tf.tidy(() => tf.matMul(keys, valueGrads, true, false));
        const gw = frobenius(gradW);
        const wNorm = frobenius(w);
        units.set(n, tf.tidy(() => tf.mul(gradW, -wNorm / gw)));
        gradW.dispose();
        sum.gradOut += frobenius(valueGrads);
        sum.gradW += gw;
        sum.relW += gw / wNorm;
        sum.outRms += tf.tidy(() => tf.sqrt(tf.mean(tf.square(tf.matMul(keys, w)))).dataSync()[0]);
      } finally {
        w.dispose();
      }
    }
    const steps = STEP_SIZES.map((r) => {
      const shifts = new Map([...units].map(([n, u]) => [n, tf.mul(u, r) as tf.Tensor2D]));
      try {
        const loss = lm.lossUnderShifts([tuple], shifts);
        const v = loss.dataSync()[0];
        loss.dispose();
        return v;
      } finally {
        for (const s of shifts.values()) s.dispose();
      }
    });
    const k = names.length;
    return { loss: trace.loss, steps, gradOut: sum.gradOut / k, gradW: sum.gradW / k, relW: sum.relW / k, outRms: sum.outRms / k };
  } finally {
    for (const u of units.values()) u.dispose();
    for (const f of trace.features.values()) {
      f.keys.dispose();
      f.valueGrads.dispose();
    }
  }
}

/** Logit statistics of `tuple` at its answer positions, averaged over them; cap undefined means no final cap. */
function logitStats(lm: CausalLM, tuple: TokenizedTuple, cap: number | undefined): LogitStats {
  const { shape, data } = lm.logits([...tuple.ids]);
  const V = shape[1];
  const out: LogitStats = { max: 0, target: 0, capPass: 0 };
  let rows = 0;
  tuple.labels.forEach((label, t) => {
    if (label === IGNORE_INDEX) return;
    const row = data.subarray(t * V, (t + 1) * V);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let z = 0;
    for (const v of row) z += Math.exp(v - max);
    let plain = 0;
    let capped = 0;
    row.forEach((v, i) => {
      const g = Math.exp(v - max) / z - (i === label ? 1 : 0);
      const slope = cap === undefined ? 1 : 1 - (v / cap) ** 2;
      plain += g * g;
      capped += (g * slope) ** 2;
    });
    out.max += max;
    out.target += row[label];
    out.capPass += Math.sqrt(capped / plain);
    rows++;
  });
  return { max: out.max / rows, target: out.target / rows, capPass: out.capPass / rows };
}

/** A copy of `dir` whose config has no final-logit soft-cap (for the logits before the cap). */
function uncappedCopy(dir: string): string {
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'uncapped-'));
  fs.cpSync(dir, copy, { recursive: true });
  const file = path.join(copy, 'config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8'));
  config.final_logit_softcapping = null;
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  return copy;
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Entry point (the launcher's runTsMain calls it). */
export async function main(argv: string[]): Promise<void> {
  const [file, countText, suffixList, ...modelArgs] = argv;
  if (!file || !countText || !suffixList || modelArgs.length === 0) {
    throw new Error('usage: node tools/edit-gradients.js FILE N SUFFIX[,SUFFIX] LABEL=MODEL_DIR [LABEL=MODEL_DIR ...]');
  }
  const count = Number(countText);
  if (!Number.isInteger(count) || count < 1) throw new Error(`N must be a positive integer, got ${JSON.stringify(countText)}`);
  const requests = loadDataset(file).requests.slice(0, count);
  await initBackend();
  for (const arg of modelArgs) {
    const eq = arg.indexOf('=');
    if (eq < 1) throw new Error(`model ${JSON.stringify(arg)}: expected LABEL=MODEL_DIR`);
    const [label, dir] = [arg.slice(0, eq), arg.slice(eq + 1)];
    const lm = await loadModel(dir);
    const cap = lm.config.finalSoftcap;
    const rawDir = cap === undefined ? undefined : uncappedCopy(dir);
    const raw = rawDir ? await loadModel(rawDir) : undefined;
    try {
      const model = lm as unknown as EditorModel;
      const tokenize = (p: string, a: string): TokenizedTuple => tokenizeTuple(lm.tokenizer!, p, a);
      const edits = requests.map((r, i) => prepareRequest(model, tokenize, r, `request ${i}`).tokenized.edit);
      const layers = new Set(upperMiddleLayers(lm.config.numLayers));
      const logits = edits.map((t) => logitStats(lm, t, cap));
      const rawMax = raw ? mean(edits.map((t) => logitStats(raw, t, undefined).max)) : undefined;
      for (const suffix of suffixList.split(',')) {
        const names = lm.modules.filter((m) => layers.has(m.layer) && m.name.endsWith(`.${suffix}`)).map((m) => m.name);
        if (names.length === 0) throw new Error(`${dir}: no ${suffix} modules in layers ${[...layers].join(',')}`);
        const stats = edits.map((t) => moduleStats(lm, t, names));
        const pick = (f: (s: ReturnType<typeof moduleStats>) => number): number => +mean(stats.map(f)).toPrecision(4);
        process.stdout.write(`${JSON.stringify({
          model: label, arch: lm.config.architecture, modules: suffix, requests: edits.length, cap: cap ?? null,
          loss: pick((s) => s.loss), gradOut: pick((s) => s.gradOut), gradW: pick((s) => s.gradW), relW: pick((s) => s.relW),
          outRms: pick((s) => s.outRms),
          stepLoss: Object.fromEntries(STEP_SIZES.map((r, i) => [r, pick((s) => s.steps[i])])),
          maxLogit: +mean(logits.map((l) => l.max)).toPrecision(4), targetLogit: +mean(logits.map((l) => l.target)).toPrecision(4),
          capPass: +mean(logits.map((l) => l.capPass)).toPrecision(4), rawMax: rawMax === undefined ? null : +rawMax.toPrecision(4),
        })}\n`);
      }
    } finally {
      lm.dispose();
      raw?.dispose();
      if (rawDir) fs.rmSync(rawDir, { recursive: true, force: true });
    }
  }
}
