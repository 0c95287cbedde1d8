/**
 * Lifelong meta-training of the policies (spec §4-5) in the two modes, sharing one objective (loss.ts).
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { tf, Adam, readJsonFile, SeededRandom, clipByGlobalNorm, klDivergence as klDivergenceScalar } from '@hiedit/tensor-core';
import type { EditableModel, EditFeatures, TokenizedEditRequest } from '@hiedit/tensor-core';
import { localityReference, shiftRegularizer, windowLoss, windowWeights, generalizationTuples } from './loss';
import type { ObjectiveWeights, WindowItem } from './loss';
import { checkModulesMatch, readHostTensors, writeFileAtomic, writeHostTensors } from './persist';
import type { HostParam } from './params';
import { applySelectedShifts, disposeShifts, HiEditPolicy, shiftToDense } from './policy';
import type { PolicyEdit } from './policy';
import { DEFAULT_TRAINER_OPTIONS, REFERENCE_TRAINER_OPTIONS, validateOptions } from './trainer-options';
import { calibrateScale, resolveCalibration } from './calibrate';
import type { TrainerOptions, TrainProgress, TrainResult } from './trainer-options';

/** Contents of train-state.json (see docs/policies.md). */
interface TrainStateJson {
  format: string;
  version: number;
  tensors: string;
  checksum: string;
  modules: readonly { name: string; dIn: number; dOut: number; layer: number }[];
  policyConfig: unknown;
  options: Record<string, unknown>;
  normalizers: ReturnType<HiEditPolicy['normalizersToJSON']>;
  bestNormalizers: ReturnType<HiEditPolicy['normalizersToJSON']> | null;
  epoch: number;
  position: number;
  step: number;
  order: number[] | null;
  accCount: number;
  adamStep: number;
  rng: number[];
  epochLossSum: number;
  epochLossCount: number;
  bestValidation: number | null;
  badEpochs: number;
  finished: boolean;
  streamLength: number;
  /** Training seconds of every session up to this save (absent in states written before it was kept: 0). */
  elapsedSeconds?: number;
}

/** `format` field of train-state.json. */
export const TRAIN_STATE_FORMAT = 'hiedit-train-state';
/**
 * Version of train-state.json. Version 2: the step size is the parameter `logEta` (eta = exp(logEta)).
 * Version-1 states (raw `eta`) are refused: their Adam moments belong to the raw parametrization and
 * cannot be converted, so resuming would not continue the same run.
 */
export const TRAIN_STATE_VERSION = 2;
const STATE_JSON = 'train-state.json';

function validateStream(stream: readonly TokenizedEditRequest[], label: string): void {
  stream.forEach((r, i) => {
    const where = `${label}[${i}] (id ${JSON.stringify(r?.id)})`;
    if (!r || !r.edit) throw new Error(`${where}: missing edit tuple`);
    for (const [k, t] of [['edit', r.edit], ...r.paraphrases.map((p, j) => [`paraphrases[${j}]`, p] as const), ...r.locality.map((p, j) => [`locality[${j}]`, p] as const)] as const) {
      if (t.ids.length === 0 || t.ids.length !== t.labels.length) throw new Error(`${where}: ${k} needs non-empty ids and labels of equal length`);
      if (!t.labels.some((l) => l !== -100)) throw new Error(`${where}: ${k} has no label positions`);
    }
  });
}

/** Gradients keyed by parameter name; owned by whoever holds the map. */
type GradMap = Map<string, tf.Tensor>;

function disposeGrads(g: GradMap): void {
  for (const t of g.values()) t.dispose();
  g.clear();
}

/** Snapshot of edit-module weights on the host. */
type WeightSnapshot = HostParam[];

/**
 * Trains a HiEditPolicy against an EditableModel. One trainer = one training run (resumable).
 * The trainer owns neither the model nor the policy; it restores the model's edit modules to their
 * base weights when training finishes.
 */
export class PolicyTrainer {
  readonly options: TrainerOptions;
  private readonly adam: Adam;
  private rng: SeededRandom;
  private readonly names: string[];
  private readonly varNames = new Map<string, string>();
  private base: WeightSnapshot;
  private acc: GradMap = new Map();
  private accCount = 0;
  // resumable position
  private epoch = 0;
  private position = 0;
  private step = 0;
  private order: number[] | null = null;
  private epochLossSum = 0;
  private epochLossCount = 0;
  private bestValidation: number | undefined;
  private badEpochs = 0;
  private best: { params: HostParam[]; normalizers: ReturnType<HiEditPolicy['normalizersToJSON']> } | null = null;
  private finished = false;
  private streamLength = -1;
  /** Edit-module weights of a paused trajectory, held on the host while the model is back at its base weights. */
  private trajectory: WeightSnapshot | null = null;
  /** Seconds spent in training sessions that have ended (restored by loadState, so a resumed run counts them). */
  private priorSeconds = 0;
  /** Date.now() when the running train() call started; null outside train(). */
  private sessionStart: number | null = null;

  constructor(
    readonly model: EditableModel,
    readonly policy: HiEditPolicy,
    options: Partial<TrainerOptions> = {},
  ) {
    const modeDefaults = options.mode === 'reference' ? REFERENCE_TRAINER_OPTIONS : {};
    const merged = { ...DEFAULT_TRAINER_OPTIONS, ...modeDefaults, ...stripUndefined(options) } as TrainerOptions;
    this.options = { ...merged, calibration: resolveCalibration(merged.calibration) };
    validateOptions(this.options);
    if (this.options.gateTarget === 'counterfactual' && policy.config.high?.adaptive) {
      throw new Error("trainer options: gateTarget 'counterfactual' trains a top-k gate; it does not train an adaptive-k threshold");
    }
    checkModulesMatch(policy.modules, (n) => model.module(n), 'trainer');
    this.names = policy.moduleNames();
    for (const n of policy.params.names()) this.varNames.set(policy.params.get(n).name, n);
    this.adam = new Adam({ lr: this.options.metaLr, beta1: this.options.beta1, beta2: this.options.beta2, eps: 1e-8 });
    this.rng = new SeededRandom(this.options.seed);
    this.base = this.readEditWeights();
  }

  private get weights(): ObjectiveWeights {
    return { locCoef: this.options.locCoef, regCoef: this.options.regCoef, genOn: this.options.genOn };
  }

  private readEditWeights(): WeightSnapshot {
    return this.names.map((name) => {
      const w = this.model.readWeight(name);
      try {
        return { name, shape: w.shape.slice(), data: Float32Array.from(w.dataSync() as Float32Array) };
      } finally {
        w.dispose();
      }
    });
  }

  private writeEditWeights(snap: WeightSnapshot): void {
    for (const s of snap) {
      const t = tf.tensor2d(s.data, s.shape as [number, number]);
      try {
        this.model.writeWeight(s.name, t);
      } finally {
        t.dispose();
      }
    }
  }

  /** Restore the model's edit modules to the weights they had when the trainer was created. */
  resetModel(): void {
    this.writeEditWeights(this.base);
  }

  /** Total steps taken. */
  get steps(): number {
    return this.step;
  }

  /**
   * Run (or continue) training over `train`, validating on `validation` after each epoch (hiedit mode) for
   * early stopping. Returns when done or when `maxSteps` is reached (then `saveState` + `loadState` resume).
   * Whenever it returns (done or paused) the model's edit modules hold their base weights again; a paused
   * trajectory is kept by the trainer (and in saveState) and put back when training continues.
   * On an error (e.g. a non-finite gradient) the model's edit modules are restored to their base weights and
   * the error names the request; resume from the last checkpoint, not from this trainer.
   */
  train(train: readonly TokenizedEditRequest[], validation: readonly TokenizedEditRequest[] = []): TrainResult {
    this.sessionStart = Date.now();
    try {
      return this.runSession(train, validation);
    } finally {
      this.priorSeconds = this.elapsedSeconds();
      this.sessionStart = null;
    }
  }

  /** Training seconds so far, earlier (saved and resumed) sessions included. */
  elapsedSeconds(): number {
    return this.priorSeconds + (this.sessionStart === null ? 0 : (Date.now() - this.sessionStart) / 1000);
  }

  private runSession(train: readonly TokenizedEditRequest[], validation: readonly TokenizedEditRequest[]): TrainResult {
    if (train.length === 0) throw new Error('trainer: the training stream is empty');
    if (this.streamLength >= 0 && this.streamLength !== train.length) {
      throw new Error(`trainer: resumed with a training stream of ${train.length} requests, the saved run had ${this.streamLength}`);
    }
    validateStream(train, 'training stream');
    validateStream(validation, 'validation stream');
    this.streamLength = train.length;
    if (this.policy.needsKeyCovariances()) {
      // Once, under the base weights and before any step: C is frozen from here on (a resumed run restores it
      // from the training state instead), so the policy trained is the policy later used.
      this.resetModel();
      this.policy.estimateKeyCovariances(this.model, train);
    }
    const o = this.options;
    let stoppedEarly = false;
    if (this.trajectory) {
      if (this.order !== null) this.writeEditWeights(this.trajectory);
      this.trajectory = null;
    }
    while (!this.finished && this.epoch < o.epochs) {
      if (this.order === null) {
        this.resetModel();
        const idx = Array.from({ length: train.length }, (_, i) => i);
        this.order = o.shuffle ? this.rng.shuffle(idx) : idx;
        this.position = 0;
        this.epochLossSum = 0;
        this.epochLossCount = 0;
      }
      while (this.position < train.length) {
        if (o.maxSteps !== undefined && this.step >= o.maxSteps) return this.pause();
        try {
          this.trainStep(train);
        } catch (e) {
          // leave the model as it was given; the last checkpoint on disk stays valid for a resume
          this.resetModel();
          const id = train[this.order![this.position]].id;
          throw new Error(`training request ${JSON.stringify(id)} (epoch ${this.epoch}, position ${this.position}): ${(e as Error).message}`);
        }
      }
      this.endEpoch();
      const ev: TrainProgress = { kind: 'epoch', epoch: this.epoch, meanLoss: this.epochLossSum / Math.max(1, this.epochLossCount) };
      if (validation.length && o.mode === 'hiedit') {
        const score = this.validate(validation);
        const improved = this.bestValidation === undefined || score < this.bestValidation;
        if (improved) {
          this.bestValidation = score;
          this.best = { params: this.policy.params.toHost(), normalizers: this.policy.normalizersToJSON() };
          this.badEpochs = 0;
        } else this.badEpochs += 1;
        Object.assign(ev, { validation: score, best: this.bestValidation, improved });
      }
      o.onProgress?.(ev);
      this.epoch += 1;
      this.order = null;
      this.position = 0;
      if (this.badEpochs >= o.patience) {
        stoppedEarly = true;
        o.onProgress?.({ kind: 'early-stop', epoch: this.epoch, best: this.bestValidation! });
        break;
      }
    }
    if (!this.finished) {
      if (this.best) {
        this.policy.params.fromHost((n) => this.best!.params.find((p) => p.name === n), 'best validation snapshot');
        this.policy.normalizersFromJSON(this.best.normalizers, 'best validation snapshot');
      }
      this.finished = true;
      this.resetModel();
      disposeGrads(this.acc);
      if (o.checkpoint) this.saveState(o.checkpoint.dir);
    }
    return { status: 'done', steps: this.step, epochsCompleted: this.epoch, bestValidation: this.bestValidation, stoppedEarly, seconds: this.elapsedSeconds() };
  }

  private pause(): TrainResult {
    this.trajectory = this.readEditWeights();
    this.resetModel();
    if (this.options.checkpoint) this.saveState(this.options.checkpoint.dir);
    return { status: 'maxSteps', steps: this.step, epochsCompleted: this.epoch, bestValidation: this.bestValidation, stoppedEarly: false, seconds: this.elapsedSeconds() };
  }

  /** Build the back-tracking window ending at the current position (oldest first). */
  private windowRequests(train: readonly TokenizedEditRequest[]): TokenizedEditRequest[] {
    const start = Math.max(0, this.position - this.options.backDepth + 1);
    return this.order!.slice(start, this.position + 1).map((i) => train[i]);
  }

  private trainStep(train: readonly TokenizedEditRequest[]): void {
    const o = this.options;
    const request = train[this.order![this.position]];
    const requests = this.windowRequests(train);
    const trace = this.model.trace(request.edit, this.names, o.positions);
    const features = trace.features;
    let edit: PolicyEdit | null = null;
    let pBefore: (tf.Tensor2D | null)[] = [];
    try {
      pBefore = localityReference(this.model, requests);
      this.policy.updateNormalizers(features, { low: true, high: o.updateHighNormalizers });
      const weights = windowWeights(requests.length, o.gamma);
      const window: WindowItem[] = requests.map((r, i) => ({ request: r, weight: weights[i], pBefore: pBefore[i] }));
      edit = this.policy.computeEdit(features);
      // The counterfactual target calibrates every module on its own; a one-module selection reuses its strength.
      const perModule = o.mode === 'hiedit' && o.gateTarget === 'counterfactual' && this.policy.high ? this.moduleScales(request, edit) : undefined;
      const chosen = edit.mask.selected.flatMap((s, i) => (s ? [i] : []));
      const scale = perModule && chosen.length === 1 ? perModule[chosen[0]] : this.calibratedScale(request, edit, false);
      const target = perModule ? this.counterfactualGateTarget(edit, window, perModule) : undefined;
      const step = o.mode === 'hiedit' ? this.hieditGradients(features, window, scale, target) : this.referenceGradients(features, window, edit);
      const updated = this.accumulate(step.grads);
      const full = o.computeBaseline && this.policy.high ? this.fullLoss(window, edit, this.calibratedScale(request, edit, true)) : undefined;
      if (o.accumulateEdits) this.applySelected(edit, scale);
      this.position += 1;
      this.step += 1;
      this.epochLossSum += step.loss;
      this.epochLossCount += 1;
      o.onProgress?.({
        kind: 'step',
        epoch: this.epoch,
        step: this.step,
        position: this.position - 1,
        requestId: request.id,
        loss: step.loss,
        gen: step.gen,
        loc: step.loc,
        reg: step.reg,
        full,
        advantage: full === undefined ? undefined : step.loss - full,
        selected: this.names.filter((_, i) => edit!.mask.selected[i]),
        gradNorm: this.lastGradNorm,
        updated,
      });
      if (o.checkpoint && this.step % o.checkpoint.everySteps === 0) {
        this.saveState(o.checkpoint.dir);
        o.onProgress?.({ kind: 'checkpoint', dir: o.checkpoint.dir, step: this.step });
      }
    } finally {
      if (edit) disposeShifts(edit.shifts);
      for (const p of pBefore) p?.dispose();
      for (const f of features.values()) {
        f.keys.dispose();
        f.valueGrads.dispose();
      }
    }
  }

  private variableList(): tf.Variable[] {
    return this.policy.params.names().map((n) => this.policy.params.get(n));
  }

  private collectGrads(grads: tf.NamedTensorMap): GradMap {
    const out: GradMap = new Map();
    for (const [vname, g] of Object.entries(grads)) {
      const n = this.varNames.get(vname);
      if (n === undefined) g.dispose();
      else out.set(n, g);
    }
    return out;
  }

  /**
   * hiedit mode: the objective as a function of the policy parameters through W + mask * dW(theta).
   * Exposed for gradient checks; returns the gradients (caller owns) and the loss terms.
   */
  hieditGradients(features: ReadonlyMap<string, EditFeatures>, window: readonly WindowItem[], scale = 1, gateTarget?: Float32Array): StepGradients {
    const M = this.names.length;
    const terms = { gen: 0, loc: 0, reg: 0 };
    const { value, grads } = tf.variableGrads(() => {
      const out = this.policy.forward(features);
      // With a counterfactual target the gate learns from the target alone: the hard mask is a constant here.
      const mask = out.gate ? (gateTarget ? tf.tensor1d(out.gate.hard) : out.gate.mask) : null;
      const masked = out.shifts.map((s, i) => {
        // The calibrated strength is a constant of this step: the policy learns the direction and the gate the choice.
        const dense = scale === 1 ? tf.matMul(s.left, s.right) : tf.mul(tf.matMul(s.left, s.right), scale);
        return mask ? tf.mul(dense, tf.slice(mask, [i], [1]).reshape([])) : dense;
      }) as tf.Tensor2D[];
      const shiftMap = new Map(this.names.map((n, i) => [n, masked[i]] as const));
      const t = windowLoss(this.model, window, shiftMap, this.weights);
      const reg = shiftRegularizer(masked, this.options.regCoef);
      let total = tf.add(t.modelLoss, reg) as tf.Scalar;
      const hi = this.policy.config.high;
      if (out.gate && hi?.adaptive) total = tf.add(total, tf.mul(tf.sum(out.gate.mask), hi.beta / M));
      if (out.gate && gateTarget) total = tf.sub(total, tf.sum(tf.mul(tf.tensor1d(gateTarget), tf.logSoftmax(out.gate.scores)))) as tf.Scalar;
      terms.gen = t.gen.dataSync()[0];
      terms.loc = t.loc.dataSync()[0];
      terms.reg = reg.dataSync()[0];
      return total;
    }, this.variableList());
    value.dispose();
    return { grads: this.collectGrads(grads), loss: terms.gen + this.options.locCoef * terms.loc + terms.reg, ...terms };
  }

  /**
   * reference mode (exposed for checks): the shift is a constant written into the weights; dL/dW reaches the low-level network
   * by the chain rule sum_m <dL/dW_m, d dW_m/d theta>, and the gate only through the regularizer.
   */
  referenceGradients(features: ReadonlyMap<string, EditFeatures>, window: readonly WindowItem[], edit: PolicyEdit): StepGradients {
    const sel = edit.mask.selected;
    const constShifts = this.names.map((n, i) => tf.tidy(() => (sel[i] ? shiftToDense(edit.shifts.get(n)!) : tf.zeros([this.policy.modules[i].dIn, this.policy.modules[i].dOut]))) as tf.Tensor2D);
    let dLdW: tf.Tensor[] = [];
    let gen = 0;
    let loc = 0;
    try {
      const g = tf.grads((...s: tf.Tensor[]) => {
        const t = windowLoss(this.model, window, new Map(this.names.map((n, i) => [n, s[i] as tf.Tensor2D] as const)), this.weights);
        gen = t.gen.dataSync()[0];
        loc = t.loc.dataSync()[0];
        return t.modelLoss;
      });
      dLdW = g(constShifts);
    } finally {
      constShifts.forEach((t) => t.dispose());
    }
    const terms = { reg: 0 };
    try {
      const { value, grads } = tf.variableGrads(() => {
        const out = this.policy.forward(features);
        let surrogate: tf.Scalar = tf.scalar(0);
        const masked: tf.Tensor[] = [];
        out.shifts.forEach((s, i) => {
          const dense = tf.matMul(s.left, s.right);
          surrogate = tf.add(surrogate, tf.mul(tf.sum(tf.mul(dLdW[i], dense)), sel[i] ? 1 : 0));
          masked.push(out.gate ? tf.mul(dense, tf.slice(out.gate.mask, [i], [1]).reshape([])) : dense);
        });
        const reg = shiftRegularizer(masked, this.options.regCoef);
        terms.reg = reg.dataSync()[0];
        return tf.add(surrogate, reg) as tf.Scalar;
      }, this.variableList());
      value.dispose();
      return { grads: this.collectGrads(grads), loss: gen + this.options.locCoef * loc + terms.reg, gen, loc, reg: terms.reg };
    } finally {
      dLdW.forEach((t) => t.dispose());
    }
  }

  /** Add a step's gradients to the accumulator and step Adam when the schedule says so. Returns whether it stepped. */
  private accumulate(grads: GradMap): boolean {
    const o = this.options;
    const list = [...grads.values()];
    // the norm is reported for every step, before any clipping
    const stepNorm = tf.tidy(() => Math.sqrt(list.reduce((a, g) => a + (tf.sum(tf.mul(g, g)).dataSync()[0] as number), 0)));
    this.lastGradNorm = stepNorm;
    if (!Number.isFinite(stepNorm)) {
      for (const g of grads.values()) g.dispose();
      grads.clear();
      throw new Error(`non-finite policy gradient (norm ${stepNorm}); lower metaLr or low.initEta`);
    }
    if (o.mode === 'reference' && o.zeroLowLevelGradEachStep) {
      for (const n of [...this.acc.keys()]) if (n.startsWith('low.')) {
        this.acc.get(n)!.dispose();
        this.acc.delete(n);
      }
    }
    for (const [n, g] of grads) {
      const prev = this.acc.get(n);
      if (prev) {
        this.acc.set(n, tf.add(prev, g));
        prev.dispose();
        g.dispose();
      } else this.acc.set(n, g);
    }
    grads.clear();
    this.accCount += 1;
    if (o.mode === 'reference') {
      // the authors clip the accumulated .grad buffers after every backward pass
      this.clipAccumulated(1);
      return false;
    }
    if (this.accCount >= o.updateEvery) {
      this.flush();
      return true;
    }
    return false;
  }

  private lastGradNorm = 0;

  private clipAccumulated(divisor: number): void {
    const names = [...this.acc.keys()];
    const scaled = names.map((n) => (divisor === 1 ? this.acc.get(n)! : tf.div(this.acc.get(n)!, divisor)));
    const { clipped } = clipByGlobalNorm(scaled, this.options.clipNorm);
    const keep = new Set<tf.Tensor>(clipped);
    names.forEach((n, i) => {
      const old = this.acc.get(n)!;
      if (!keep.has(old)) old.dispose();
      if (scaled[i] !== old && !keep.has(scaled[i])) scaled[i].dispose();
      this.acc.set(n, clipped[i]);
    });
  }

  /** Adam step on the accumulated gradient (hiedit: its clipped mean). */
  private flush(): void {
    if (this.accCount === 0 || this.acc.size === 0) {
      this.accCount = 0;
      return;
    }
    if (this.options.mode === 'hiedit') this.clipAccumulated(this.accCount);
    this.adam.apply(this.policy.params, this.acc);
    disposeGrads(this.acc);
    this.accCount = 0;
  }

  private endEpoch(): void {
    // reference: Adam steps once per epoch; hiedit: a partial last group of requests still counts
    this.flush();
  }

  private applySelected(edit: PolicyEdit, scale = 1): void {
    applySelectedShifts(this.model, edit, scale);
  }

  /**
   * The calibrated strength of `edit` on `request`'s edit tuple (1 without calibration): of its selected shifts, or,
   * with `all`, of every module's (the L_full baseline).
   */
  private calibratedScale(request: TokenizedEditRequest, edit: PolicyEdit, all: boolean): number {
    const c = this.options.calibration;
    if (!c) return 1;
    const shifts = new Map(edit.mask.modules.filter((_, i) => all || edit.mask.selected[i]).map((n) => [n, edit.shifts.get(n)!] as const));
    return calibrateScale(this.model, request.edit, shifts, c).scale;
  }

  /** The calibrated strength of every module's shift on its own (1 without calibration, 0 where it does not hold). */
  private moduleScales(request: TokenizedEditRequest, edit: PolicyEdit): number[] {
    const c = this.options.calibration;
    return this.names.map((n) => (c ? calibrateScale(this.model, request.edit, new Map([[n, edit.shifts.get(n)!]]), c).scale : 1));
  }

  /**
   * The counterfactual gate target: every module's shift at its own calibrated strength `scales` (moduleScales)
   * scored on its own (window loss + regularizer, no shift at all when it does not hold), and a distribution uniform
   * over the k best modules, k the gate's count this step. Each module alone stands in for the sets containing it,
   * exact when k = 1.
   */
  private counterfactualGateTarget(edit: PolicyEdit, window: readonly WindowItem[], scales: readonly number[]): Float32Array {
    const losses = this.names.map((n, i) => {
      const shift = edit.shifts.get(n)!;
      const s = scales[i];
      const v = tf.tidy(() => {
        const dense = tf.mul(shiftToDense(shift), s) as tf.Tensor2D;
        const t = windowLoss(this.model, window, s > 0 ? new Map([[n, dense]]) : new Map(), this.weights);
        return tf.add(t.modelLoss, shiftRegularizer([dense], this.options.regCoef));
      });
      const x = v.dataSync()[0];
      v.dispose();
      return x;
    });
    const k = Math.max(1, edit.mask.selected.filter(Boolean).length);
    const best = [...losses.keys()].sort((a, b) => losses[a] - losses[b] || a - b).slice(0, k);
    const q = new Float32Array(this.names.length);
    for (const i of best) q[i] = 1 / k;
    return q;
  }

  /** L_full: the same generalization + locality losses with every module shifted (no gradient). */
  private fullLoss(window: readonly WindowItem[], edit: PolicyEdit, scale = 1): number {
    return tf.tidy(() => {
      const shifts = new Map(this.names.map((n) => [n, tf.mul(shiftToDense(edit.shifts.get(n)!), scale) as tf.Tensor2D] as const));
      return windowLoss(this.model, window, shifts, this.weights).modelLoss.dataSync()[0];
    });
  }

  /**
   * Validation score: run the validation stream through the frozen policies from the base model, then
   * mean generalization CE + loc_coef * locality KL (against the base model) on the final model. Lower is better.
   */
  validate(validation: readonly TokenizedEditRequest[]): number {
    this.resetModel();
    const before = localityReference(this.model, validation);
    try {
      for (const r of validation) {
        const trace = this.model.trace(r.edit, this.names, this.options.positions);
        try {
          const edit = this.policy.computeEdit(trace.features);
          try {
            this.applySelected(edit, this.calibratedScale(r, edit, false));
          } finally {
            disposeShifts(edit.shifts);
          }
        } finally {
          for (const f of trace.features.values()) {
            f.keys.dispose();
            f.valueGrads.dispose();
          }
        }
      }
      const score = tf.tidy(() => {
        let total = 0;
        validation.forEach((r, i) => {
          total += this.model.lossUnderShifts(generalizationTuples(r, this.options.genOn)).dataSync()[0];
          const b = before[i];
          if (b) {
            const a = this.model.logProbsUnderShifts(r.locality);
            total += this.options.locCoef * (klDivergenceValue(b, a));
          }
        });
        return total / validation.length;
      });
      return score;
    } finally {
      before.forEach((b) => b?.dispose());
      this.resetModel();
    }
  }

  /**
   * Write the complete training state (policy, normalizers, Adam moments, accumulated gradients, stream
   * position, epoch, random state, the model's current and base edit-module weights) to `dir`.
   * The tensor file is written first under a step-specific name, then the JSON that points to it: a crash
   * leaves the previous state valid.
   */
  saveState(dir: string): void {
    fs.mkdirSync(dir, { recursive: true });
    const tensors: HostParam[] = [];
    for (const p of this.policy.params.toHost()) tensors.push({ ...p, name: `policy.${p.name}` });
    for (const p of this.adam.toHost()) tensors.push({ ...p, name: `adam.${p.name}` });
    for (const [n, t] of this.acc) tensors.push({ name: `acc.${n}`, shape: t.shape.slice(), data: Float32Array.from(t.dataSync() as Float32Array) });
    for (const p of this.base) tensors.push({ ...p, name: `base.${p.name}` });
    for (const p of this.trajectory ?? this.readEditWeights()) tensors.push({ ...p, name: `model.${p.name}` });
    if (this.best) for (const p of this.best.params) tensors.push({ ...p, name: `best.${p.name}` });
    tensors.push(...this.policy.keyCovariancesToHost());
    // a fresh name per save: the file the current JSON points to is never overwritten
    const file = `train-state-${this.step}-${this.epoch}${this.finished ? '-final' : ''}-${crypto.randomBytes(4).toString('hex')}.safetensors`;
    const checksum = writeHostTensors(path.join(dir, file), tensors, { format: TRAIN_STATE_FORMAT });
    const prev = readStatePointer(dir);
    const json: TrainStateJson = {
      format: TRAIN_STATE_FORMAT,
      version: TRAIN_STATE_VERSION,
      tensors: file,
      checksum,
      modules: this.policy.modules,
      policyConfig: this.policy.config,
      options: serializableOptions(this.options),
      normalizers: this.policy.normalizersToJSON(),
      bestNormalizers: this.best?.normalizers ?? null,
      epoch: this.epoch,
      position: this.position,
      step: this.step,
      order: this.order,
      accCount: this.accCount,
      adamStep: this.adam.step,
      rng: this.rng.getState(),
      epochLossSum: this.epochLossSum,
      epochLossCount: this.epochLossCount,
      bestValidation: this.bestValidation ?? null,
      badEpochs: this.badEpochs,
      finished: this.finished,
      streamLength: this.streamLength,
      elapsedSeconds: this.elapsedSeconds(),
    };
    writeFileAtomic(path.join(dir, STATE_JSON), JSON.stringify(json));
    if (prev && prev !== file) fs.rmSync(path.join(dir, prev), { force: true });
  }

  /**
   * Restore a state written by saveState into this trainer and its policy (same configuration and modules).
   * The model is not touched until `train` continues on the same streams.
   */
  loadState(dir: string): void {
    const jsonFile = path.join(dir, STATE_JSON);
    if (!fs.existsSync(jsonFile)) throw new Error(`${jsonFile}: no training state found`);
    const s = readJsonFile(jsonFile) as TrainStateJson;
    if (s.format !== TRAIN_STATE_FORMAT) throw new Error(`${jsonFile}: field "format" is ${JSON.stringify(s.format)}, expected "${TRAIN_STATE_FORMAT}"`);
    if (s.version !== TRAIN_STATE_VERSION) {
      throw new Error(`${jsonFile}: field "version" is ${JSON.stringify(s.version)}, this build resumes only version ${TRAIN_STATE_VERSION} (version 1 stored a raw step size eta; its optimizer state cannot be converted to the log parametrization: start the training over)`);
    }
    const mods = s.modules;
    if (!Array.isArray(mods) || mods.length !== this.policy.modules.length || mods.some((m, i) => m.name !== this.policy.modules[i].name || m.dIn !== this.policy.modules[i].dIn || m.dOut !== this.policy.modules[i].dOut)) {
      throw new Error(`${jsonFile}: the saved run edits modules ${JSON.stringify(mods?.map((m) => `${m.name}:${m.dIn}x${m.dOut}`))}, this policy edits ${JSON.stringify(this.policy.modules.map((m) => `${m.name}:${m.dIn}x${m.dOut}`))}`);
    }
    if (JSON.stringify(s.policyConfig) !== JSON.stringify(this.policy.config)) {
      throw new Error(`${jsonFile}: the saved policy configuration differs from this policy's (${JSON.stringify(s.policyConfig)} vs ${JSON.stringify(this.policy.config)})`);
    }
    // Every option but the stopping point and the checkpointing shapes the run; resuming under another
    // value would silently continue a different run.
    if (!s.options || typeof s.options !== 'object') throw new Error(`${jsonFile}: field "options" is missing`);
    const mine = serializableOptions(this.options);
    // a run saved before gateTarget existed trained its gate the only way there was
    const saved = serializableOptions({ gateTarget: 'straightThrough', ...(s.options as object) } as unknown as TrainerOptions);
    for (const k of [...new Set([...Object.keys(mine), ...Object.keys(saved)])]) {
      if (JSON.stringify(saved[k]) !== JSON.stringify(mine[k])) {
        throw new Error(`${jsonFile}: the saved run used ${k} = ${JSON.stringify(saved[k])}, this trainer has ${JSON.stringify(mine[k])}`);
      }
    }
    const elapsed = s.elapsedSeconds ?? 0;
    if (typeof elapsed !== 'number' || !Number.isFinite(elapsed) || elapsed < 0) {
      throw new Error(`${jsonFile}: field "elapsedSeconds" must be a non-negative number, got ${JSON.stringify(s.elapsedSeconds)}`);
    }
    const tensors = readHostTensors(path.join(dir, s.tensors), s.checksum);
    const pick = (prefix: string) => (n: string) => tensors.get(`${prefix}${n}`);
    this.policy.params.fromHost(pick('policy.'), path.join(dir, s.tensors));
    this.policy.normalizersFromJSON(s.normalizers, jsonFile);
    this.policy.keyCovariancesFromHost(tensors, path.join(dir, s.tensors));
    const moments: HostParam[] = [];
    disposeGrads(this.acc);
    for (const [n, t] of tensors) {
      if (n.startsWith('adam.')) moments.push({ ...t, name: n.slice(5) });
      else if (n.startsWith('acc.')) this.acc.set(n.slice(4), tf.tensor(t.data, t.shape));
    }
    this.adam.fromHost(s.adamStep, moments);
    const snap = (prefix: string): WeightSnapshot =>
      this.names.map((n) => {
        const t = tensors.get(`${prefix}${n}`);
        if (!t) throw new Error(`${path.join(dir, s.tensors)}: weights ${prefix}${n} are missing`);
        return { ...t, name: n };
      });
    this.base = snap('base.');
    // the model is left as it is; the saved trajectory goes back into it when train() continues
    this.trajectory = snap('model.');
    this.best = s.bestNormalizers
      ? { params: this.policy.params.names().map((n) => ({ ...tensors.get(`best.${n}`)!, name: n })), normalizers: s.bestNormalizers }
      : null;
    this.epoch = s.epoch;
    this.position = s.position;
    this.step = s.step;
    this.order = s.order;
    this.accCount = s.accCount;
    this.rng.setState(s.rng);
    this.epochLossSum = s.epochLossSum;
    this.epochLossCount = s.epochLossCount;
    this.bestValidation = s.bestValidation ?? undefined;
    this.badEpochs = s.badEpochs;
    this.finished = s.finished;
    this.streamLength = s.streamLength;
    this.priorSeconds = elapsed;
  }

  /** Release the trainer's own tensors (accumulated gradients, Adam moments). */
  dispose(): void {
    disposeGrads(this.acc);
    this.adam.dispose();
  }
}

/** Gradients of one step and its loss terms. */
export interface StepGradients {
  grads: Map<string, tf.Tensor>;
  loss: number;
  gen: number;
  loc: number;
  reg: number;
}

function klDivergenceValue(before: tf.Tensor2D, after: tf.Tensor2D): number {
  return tf.tidy(() => klDivergenceScalar(before, after).dataSync()[0]);
}

function readStatePointer(dir: string): string | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, STATE_JSON), 'utf8')).tensors as string;
  } catch {
    return undefined;
  }
}

/** The options that define a run (resume must match them): all but the callback, the stop point and the checkpointing. */
export function serializableOptions(o: TrainerOptions): Record<string, unknown> {
  const { onProgress: _p, checkpoint: _c, maxSteps: _m, ...rest } = o;
  return stripUndefined(rest) as Record<string, unknown>;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
