/**
 * Size-dependent defaults of the policy editors' two step sizes: the initial per-module step size eta
 * of the low-level shift and the meta learning rate of its training.
 *
 * Why they depend on size: the MEND-style shift is dW = -eta K~^T G~ with normalized (unit-variance)
 * features, so the change it causes in a module's output for its own key grows with the key width d_in
 * (x . k~ sums d_in terms); a fixed eta that moves a 64-wide toy model is far too large for a 4096-wide
 * Llama. Likewise the relative step Adam takes on the network's A (initialized at 1/sqrt(D)) grows with D.
 * Since eta is trained as log(eta) (rl-hierarchy), Adam's steps on it are relative whatever eta's size, so
 * eta no longer needs a small meta_lr at large widths; the scaling of meta_lr is kept for A's sake. The
 * small-model meta_lr was re-checked on world validation after that change (docs/tuning.md): 3e-3 was
 * not better than 1e-3 (a wash for HiEdit, worse for RLEdit), so 1e-3 stays. Because eta no longer
 * shrinks by itself during training, the small-model initial eta was re-tuned too (1e-2 -> 5e-3).
 *
 * The rule: log-log interpolation in d_in between two anchors that were each tuned on their own
 * training/validation data — the built-in world model (d_in 64, see docs/tuning.md) and the authors'
 * Llama-3-8B runs (d_in 4096, eta 1e-6, meta_lr 1e-5, spec §6) — clamped to the anchor values outside
 * [64, 4096]. Explicit settings always win.
 *
 * Session 4: the width that matters is the model's residual width (`residualWidth`), not the module's input width.
 * For modules that read the residual stream (gate/up, c_fc, attention projections) the two are the same, so nothing
 * changed for them. Output projections (down_proj, c_proj) read the MLP's inner activations (4x
 * wider): keyed on d_in their eta came out 65x too small to edit anything on the world model, and the tuning worlds
 * (docs/tuning.md, session 4) put their best eta at about 6x the input-side value (3e-2 against 5e-3 for RLEdit, MEND
 * and hiedit-reference together) and their best meta_lr at 1/20 of it; the factors OUTPUT_SIDE_ETA_FACTOR and
 * OUTPUT_SIDE_META_LR_FACTOR apply at every width. They were measured on the 64-wide models only.
 */

/** Edit-module shape as the rule sees it. */
export interface EditModuleShape {
  readonly dIn: number;
  readonly dOut: number;
}

/** eta of output projections relative to the input-side rule; tuned on the world models (64 wide). */
export const OUTPUT_SIDE_ETA_FACTOR = 6;
/**
 * meta_lr of output projections relative to the input-side rule (world models, tuning worlds 1-4 x seeds 0-1): RLEdit
 * 0.521 at 5e-5 and 0.520 at 2.15e-4 against 0.501 at 1e-3, MEND 0.473 / 0.473 against 0.427, HiEdit 0.620 at 5e-5
 * against 0.537 at 1e-3 (4 runs).
 */
export const OUTPUT_SIDE_META_LR_FACTOR = 0.05;

/**
 * The residual (hidden) width of a model from its linear modules: the most common input width, since every attention
 * and MLP input projection reads the residual stream (ties go to the smaller width).
 */
export function residualWidth(modules: readonly EditModuleShape[]): number {
  if (modules.length === 0) throw new Error('residualWidth: the model has no linear modules');
  const counts = new Map<number, number>();
  for (const m of modules) counts.set(m.dIn, (counts.get(m.dIn) ?? 0) + 1);
  let best = -1;
  let bestCount = 0;
  for (const [w, c] of counts) if (c > bestCount || (c === bestCount && w < best)) { best = w; bestCount = c; }
  return best;
}

/**
 * Default initial eta and meta learning rate for edit modules of a model whose residual width is `residual`: the
 * rule at that width, with eta times OUTPUT_SIDE_ETA_FACTOR and meta_lr times OUTPUT_SIDE_META_LR_FACTOR when every edit
 * module is an output projection (it writes the residual stream, dOut = residual, and reads something else).
 */
export function moduleStepDefaults(shapes: readonly EditModuleShape[], residual: number): { initEta: number; metaLr: number } {
  if (shapes.length === 0) throw new Error('moduleStepDefaults: no edit modules');
  const d = sizeScaledStepDefaults(residual);
  const outputSide = shapes.every((m) => m.dOut === residual && m.dIn !== residual);
  return outputSide ? { initEta: d.initEta * OUTPUT_SIDE_ETA_FACTOR, metaLr: d.metaLr * OUTPUT_SIDE_META_LR_FACTOR } : d;
}

/** One tuned point: the edit modules' input width and the step sizes that worked there. */
export interface SizeAnchor {
  readonly dIn: number;
  readonly initEta: number;
  readonly metaLr: number;
}

/**
 * Tuned on the world benchmark's validation split (docs/tuning.md). initEta was 1e-2 while eta was trained
 * raw (Adam then shrank it 1.5-5x by itself); with eta = exp(logEta) it stays near its start, and a
 * validation sweep of 1e-2 / 5e-3 / 3e-3 / 1e-3 picked 5e-3 (the same for HiEdit and RLEdit).
 */
export const SMALL_MODEL_ANCHOR: SizeAnchor = { dIn: 64, initEta: 5e-3, metaLr: 1e-3 };
/** The authors' Llama-3-8B values (spec §6). */
export const LLAMA3_ANCHOR: SizeAnchor = { dIn: 4096, initEta: 1e-6, metaLr: 1e-5 };

function interpolate(dIn: number, small: number, large: number): number {
  const lo = Math.log(SMALL_MODEL_ANCHOR.dIn);
  const hi = Math.log(LLAMA3_ANCHOR.dIn);
  const t = (Math.log(dIn) - lo) / (hi - lo);
  // exact anchor values at and beyond the anchors (exp(log(x)) is not always x in floating point)
  if (t <= 0) return small;
  if (t >= 1) return large;
  return Math.exp(Math.log(small) + t * (Math.log(large) - Math.log(small)));
}

/**
 * Default initial eta and meta learning rate for edit modules whose widest input is `dIn`.
 * @throws when dIn is not a positive integer
 */
export function sizeScaledStepDefaults(dIn: number): { initEta: number; metaLr: number } {
  if (!Number.isInteger(dIn) || dIn < 1) throw new Error(`sizeScaledStepDefaults: dIn must be a positive integer, got ${dIn}`);
  return {
    initEta: interpolate(dIn, SMALL_MODEL_ANCHOR.initEta, LLAMA3_ANCHOR.initEta),
    metaLr: interpolate(dIn, SMALL_MODEL_ANCHOR.metaLr, LLAMA3_ANCHOR.metaLr),
  };
}
