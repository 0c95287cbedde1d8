/**
 * CausalLM: one loaded (or randomly created) GPT-2 / Llama-family model with everything the editor
 * needs: forward with padding, loss and gradients, tracing of module keys and value gradients,
 * shifted forwards inside autodiff, weight shifts, greedy generation with a KV cache, and save.
 */
import { softmaxCrossEntropy, tf, type EditableModel, type ModuleDescriptor, type SafeDType, type TokenizedTuple, type TraceResult, type TracePositions, IGNORE_INDEX } from '@hiedit/tensor-core';
import type { ModelConfig } from './config';
import type { ArchImpl, ParamSpec } from './models/arch';
import { attentionBias, Ctx, windowedBiases, type ForwardOptions, type LayerCache } from './models/layers';
import type { Tokenizer } from './tokenizer';
import { saveModelDirectory, type SaveDType } from './save';

/** What the loader / factory hands to the constructor. */
export interface CausalLMInit {
  config: ModelConfig;
  arch: ArchImpl;
  /** Internal key -> variable (linear weights (dIn, dOut)); ownership passes to the model. */
  weights: Map<string, tf.Variable>;
  sourceDtype: SafeDType;
  /** sha256 over the weights as loaded (see weightsHash). */
  hash: string;
  /** Prefix the checkpoint file put before non-head tensor names (`transformer.` in some GPT-2 files). */
  prefix?: string;
  dir?: string;
  tokenizer?: Tokenizer;
}

/** Mean cross-entropy of logits (P, V) against labels (P), every label a valid id (tensor-core's fused op). */
function meanCrossEntropy(logits: tf.Tensor2D, labels: readonly number[]): tf.Scalar {
  return tf.mean(softmaxCrossEntropy(logits, labels));
}

/** A right-padded batch of tuples, with the flat (b * T + t) rows of every label position. */
interface Batch {
  ids: number[][];
  mask: number[][] | undefined;
  B: number;
  T: number;
  labelRows: number[];
  labels: number[];
}

/** A Hugging Face causal LM held in tfjs variables. Create with loadModel or createModel. */
export class CausalLM implements EditableModel {
  /** Directory the model was loaded from (undefined for in-memory models). */
  readonly dir: string | undefined;
  readonly config: ModelConfig;
  readonly tokenizer: Tokenizer | undefined;
  /** dtype of the loaded weights (F32 for models created in memory). */
  readonly sourceDtype: SafeDType;
  /** Every linear layer of the transformer blocks, by checkpoint name without `.weight`. */
  readonly modules: readonly ModuleDescriptor[];

  private readonly arch: ArchImpl;
  private readonly weights: Map<string, tf.Variable>;
  private readonly specs: Map<string, ParamSpec>;
  private readonly moduleIndex: Map<string, ModuleDescriptor>;
  private readonly prefix: string;
  private readonly hash: string;
  private disposed = false;

  /** @internal Use loadModel / createModel. */
  constructor(init: CausalLMInit) {
    this.config = init.config;
    this.arch = init.arch;
    this.weights = init.weights;
    this.sourceDtype = init.sourceDtype;
    this.hash = init.hash;
    this.prefix = init.prefix ?? '';
    this.dir = init.dir;
    this.tokenizer = init.tokenizer;
    this.specs = new Map(init.arch.params(init.config).map((s) => [s.key, s]));
    this.modules = Object.freeze(init.arch.modules(init.config).map((m) => Object.freeze(m)));
    this.moduleIndex = new Map(this.modules.map((m) => [m.name, m]));
  }

  // ---------------------------------------------------------------- names

  /** Checkpoint tensor names (without any `transformer.` prefix), in checkpoint order. */
  parameterNames(): string[] {
    return [...this.specs.keys()];
  }

  /** Number of scalar parameters (a tied embedding counts once). */
  parameterCount(): number {
    let n = 0;
    for (const s of this.specs.values()) n += s.shape.reduce((a, b) => a * b, 1);
    return n;
  }

  /** Descriptor by checkpoint name (with or without `.weight` / `transformer.`); throws naming it when absent. */
  module(name: string): ModuleDescriptor {
    const m = this.moduleIndex.get(this.canonical(name).replace(/\.weight$/, ''));
    if (!m) {
      throw new Error(`model has no module "${name}" (modules look like "${this.modules[0]?.name}"; ${this.modules.length} in total)`);
    }
    return m;
  }

  /** Name without the GPT-2 `transformer.` prefix, whether or not the loaded file used it. */
  private canonical(name: string): string {
    return this.config.architecture === 'gpt2' && name.startsWith('transformer.') ? name.slice('transformer.'.length) : name;
  }

  /** A forward context; every weight is differentiable while the weights are trainable. */
  private ctx(opts: ForwardOptions = {}): Ctx {
    return new Ctx(this.weights, { weightsTrainable: this.trainable, ...opts });
  }

  private trainable = false;

  private live(): void {
    if (this.disposed) throw new Error('CausalLM: used after dispose()');
  }

  /** Longest sequence a forward accepts. */
  private get maxLength(): number {
    if (this.config.slidingWindow !== undefined) {
      return this.config.architecture === 'gpt2' ? Math.min(this.config.maxPositions, this.config.slidingWindow) : this.config.slidingWindow;
    }
    // Learned position embeddings end at n_positions; rotary ones do not, as in Hugging Face.
    return this.config.architecture === 'gpt2' ? this.config.maxPositions : Number.MAX_SAFE_INTEGER;
  }

  private checkIds(ids: readonly number[], what: string): void {
    if (ids.length === 0) throw new Error(`${what}: empty token sequence`);
    if (ids.length > this.maxLength) {
      const why = this.config.slidingWindow !== undefined
        ? `config.json sliding_window is ${this.config.slidingWindow} and sliding-window attention is not implemented`
        : `the model has ${this.config.maxPositions} positions`;
      throw new Error(`${what}: ${ids.length} tokens is too long (${why})`);
    }
    const V = this.config.vocabSize;
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`${what}: token id ${id} is not in [0, ${V})`);
    }
  }

  // ---------------------------------------------------------------- forward

  /** Final hidden states (B*T, d) of a right- or left-padded block of tokens. */
  private hidden(ctx: Ctx, ids: number[][], mask: number[][] | undefined): tf.Tensor2D {
    const B = ids.length;
    const T = ids[0].length;
    const idsT = tf.tensor2d(ids.flat(), [B, T], 'int32');
    const bias = T === 1 && mask === undefined ? null : attentionBias(B, T, T, 0, mask);
    const windowBias = windowedBiases(bias, (w) => attentionBias(B, T, T, 0, mask, w), T, this.config.layerWindows);
    return this.arch.hidden(ctx, this.config, { ids: idsT, B, T, pos0: 0, bias, windowBias });
  }

  /** Logits (N, V) of hidden states (N, d): the tied embedding or lm_head, without transposing it, soft-capped when the config says. */
  private head(ctx: Ctx, h: tf.Tensor2D): tf.Tensor2D {
    const logits = ctx.head(this.config.tieWordEmbeddings ? this.arch.embeddingKey : 'lm_head.weight', h);
    const cap = this.config.finalSoftcap;
    return cap === undefined ? logits : tf.mul(tf.tanh(tf.div(logits, cap)), cap);
  }

  /**
   * Logits (B, T, V) for a batch of equal-length rows. attentionMask (1 = token, 0 = padding) hides
   * padded keys; positions are 0..T-1 per row, so right padding leaves real tokens unchanged. Caller disposes.
   */
  forward(ids: number[][], attentionMask?: number[][]): tf.Tensor3D {
    this.live();
    if (ids.length === 0) throw new Error('forward: empty batch');
    const T = ids[0].length;
    ids.forEach((row, b) => {
      if (row.length !== T) throw new Error(`forward: row ${b} has ${row.length} tokens, row 0 has ${T} (pad and pass attentionMask)`);
      this.checkIds(row, `forward row ${b}`);
    });
    if (attentionMask) {
      if (attentionMask.length !== ids.length || attentionMask.some((r) => r.length !== T)) {
        throw new Error(`forward: attentionMask must have the shape of ids (${ids.length} x ${T})`);
      }
    }
    return tf.tidy(() => {
      const ctx = this.ctx();
      return tf.reshape(this.head(ctx, this.hidden(ctx, ids, attentionMask)), [ids.length, T, this.config.vocabSize]) as tf.Tensor3D;
    });
  }

  /** Logits (T, V) of one sequence, on the host. */
  logits(ids: number[]): { shape: [number, number]; data: Float32Array } {
    const t = this.forward([ids]);
    try {
      return { shape: [ids.length, this.config.vocabSize], data: t.dataSync() as Float32Array };
    } finally {
      t.dispose();
    }
  }

  /** Mean next-token loss over t = 0..T-2, as a tensor (inside the caller's tidy / tape). */
  private nextTokenLoss(ctx: Ctx, ids: number[]): tf.Scalar {
    const T = ids.length;
    const h = this.hidden(ctx, [ids], undefined);
    const rows = tf.range(0, T - 1, 1, 'int32');
    return meanCrossEntropy(this.head(ctx, tf.gather(h, rows)), ids.slice(1));
  }

  private checkLossIds(ids: number[], what: string): void {
    this.checkIds(ids, what);
    if (ids.length < 2) throw new Error(`${what}: need at least 2 tokens for a next-token loss`);
  }

  /** Mean next-token cross-entropy over t = 0..T-2. */
  loss(ids: number[]): number {
    this.live();
    this.checkLossIds(ids, 'loss');
    const l = tf.tidy(() => this.nextTokenLoss(this.ctx(), ids));
    try {
      return l.dataSync()[0];
    } finally {
      l.dispose();
    }
  }

  /** Gradient of the next-token loss w.r.t. one checkpoint tensor, in the checkpoint's own layout. */
  grad(param: string, ids: number[]): { loss: number; shape: number[]; grad: Float32Array } {
    this.live();
    this.checkLossIds(ids, 'grad');
    const key = this.canonical(param);
    const spec = this.specs.get(key);
    if (!spec) {
      throw new Error(`grad: model has no parameter "${param}" (names look like "${this.parameterNames()[1]}")`);
    }
    const w = this.weights.get(key)!;
    const { value, grads } = tf.tidy(() =>
      tf.valueAndGrads((x: tf.Tensor) => this.nextTokenLoss(this.ctx({ overrides: new Map([[key, x]]), weightsTrainable: false }), ids))([w]),
    );
    const g = spec.transposed ? tf.tidy(() => tf.transpose(grads[0])) : grads[0];
    try {
      return { loss: value.dataSync()[0], shape: [...spec.shape], grad: g.dataSync() as Float32Array };
    } finally {
      value.dispose();
      grads[0].dispose();
      g.dispose();
    }
  }

  // ---------------------------------------------------------------- EditableModel

  private batch(tuples: readonly TokenizedTuple[], what: string): Batch {
    if (tuples.length === 0) throw new Error(`${what}: no tuples`);
    const T = Math.max(...tuples.map((t) => t.ids.length));
    const ids: number[][] = [];
    const mask: number[][] = [];
    const labelRows: number[] = [];
    const labels: number[] = [];
    tuples.forEach((tu, b) => {
      this.checkIds(tu.ids as number[], `${what} tuple ${b}`);
      if (tu.labels.length !== tu.ids.length) {
        throw new Error(`${what} tuple ${b}: ${tu.labels.length} labels for ${tu.ids.length} ids (they must match)`);
      }
      const pad = T - tu.ids.length;
      ids.push([...tu.ids, ...new Array<number>(pad).fill(0)]);
      mask.push([...new Array<number>(tu.ids.length).fill(1), ...new Array<number>(pad).fill(0)]);
      tu.labels.forEach((l, t) => {
        if (l === IGNORE_INDEX) return;
        if (!Number.isInteger(l) || l < 0 || l >= this.config.vocabSize) {
          throw new Error(`${what} tuple ${b}: label ${l} at position ${t} is neither ${IGNORE_INDEX} nor a token id`);
        }
        labelRows.push(b * T + t);
        labels.push(l);
      });
    });
    if (labels.length === 0) throw new Error(`${what}: no label positions (every label is ${IGNORE_INDEX})`);
    const padded = tuples.some((t) => t.ids.length !== T);
    return { ids, mask: padded ? mask : undefined, B: tuples.length, T, labelRows, labels };
  }

  private checkShifts(shifts: ReadonlyMap<string, tf.Tensor2D> | undefined, what: string): Map<string, tf.Tensor2D> | undefined {
    if (!shifts || shifts.size === 0) return undefined;
    const out = new Map<string, tf.Tensor2D>();
    for (const [name, s] of shifts) {
      const m = this.module(name);
      if (s.shape.length !== 2 || s.shape[0] !== m.dIn || s.shape[1] !== m.dOut) {
        throw new Error(`${what}: shift for ${m.name} has shape [${s.shape}], expected [${m.dIn},${m.dOut}] (dIn, dOut)`);
      }
      out.set(m.name, s);
    }
    return out;
  }

  /** Logits (P, V) at the label positions of a batch, under the given forward options. */
  private labelLogits(b: Batch, opts: ForwardOptions): tf.Tensor2D {
    const ctx = this.ctx(opts);
    const h = this.hidden(ctx, b.ids, b.mask);
    return this.head(ctx, tf.gather(h, tf.tensor1d(b.labelRows, 'int32')));
  }

  /** Mean cross-entropy over all label positions of a right-padded batch, under W + shifts (in autodiff). */
  lossUnderShifts(tuples: readonly TokenizedTuple[], shifts?: ReadonlyMap<string, tf.Tensor2D>): tf.Scalar {
    this.live();
    const b = this.batch(tuples, 'lossUnderShifts');
    const s = this.checkShifts(shifts, 'lossUnderShifts');
    return tf.tidy(() => meanCrossEntropy(this.labelLogits(b, { shifts: s }), b.labels));
  }

  /** Log-probabilities (P, V) at the label positions, tuple order then position order, under W + shifts. */
  logProbsUnderShifts(tuples: readonly TokenizedTuple[], shifts?: ReadonlyMap<string, tf.Tensor2D>): tf.Tensor2D {
    this.live();
    const b = this.batch(tuples, 'logProbsUnderShifts');
    const s = this.checkShifts(shifts, 'logProbsUnderShifts');
    return tf.tidy(() => tf.logSoftmax(this.labelLogits(b, { shifts: s })));
  }

  /**
   * One forward + backward on `tuple`. Gradients are taken only w.r.t. zero probes added to the traced
   * modules' outputs, so no weight gradient is ever computed; keys are captured during the forward.
   */
  trace(tuple: TokenizedTuple, modules: readonly string[], positions: TracePositions = 'all'): TraceResult {
    this.live();
    if (positions !== 'all' && positions !== 'ans') throw new Error(`trace: positions must be 'all' or 'ans', got ${String(positions)}`);
    const descs = modules.map((n) => this.module(n));
    const names = descs.map((d) => d.name);
    if (new Set(names).size !== names.length) throw new Error(`trace: module list has duplicates (${names.join(', ')})`);
    if (names.length === 0) throw new Error('trace: no modules to trace');
    const b = this.batch([tuple], 'trace');
    const T = b.T;
    const rowList = positions === 'all' ? undefined : b.labelRows;
    const rows = rowList ? tf.tensor1d(rowList, 'int32') : undefined;
    const probes = descs.map((d) => tf.zeros([T, d.dOut]));
    const capture = new Map<string, tf.Tensor2D>();
    let value: tf.Scalar | undefined;
    let grads: tf.Tensor[] = [];
    try {
      const labels = b.labels;
      ({ value, grads } = tf.tidy(() =>
        tf.valueAndGrads((...ps: tf.Tensor[]) => {
          const logits = this.labelLogits(b, {
            probes: new Map(names.map((n, i) => [n, ps[i]])),
            capture,
            captureNames: new Set(names),
            captureRows: rows,
            // Only the probes are differentiated: weights stay constants even while trainable.
            weightsTrainable: false,
          });
          return meanCrossEntropy(logits, labels);
        })(probes),
      ));
      const features = new Map<string, { keys: tf.Tensor2D; valueGrads: tf.Tensor2D }>();
      names.forEach((n, i) => {
        const g = grads[i] as tf.Tensor2D;
        features.set(n, { keys: capture.get(n)!, valueGrads: rows ? tf.tidy(() => tf.gather(g, rows)) : tf.clone(g) });
      });
      return { loss: value.dataSync()[0], features };
    } catch (e) {
      for (const t of capture.values()) t.dispose();
      throw e;
    } finally {
      value?.dispose();
      grads.forEach((g) => g.dispose());
      probes.forEach((p) => p.dispose());
      rows?.dispose();
    }
  }

  /** W_name += scale * delta with delta (dIn, dOut); outside autodiff. */
  addShift(name: string, delta: tf.Tensor2D, scale = 1): void {
    this.live();
    const m = this.module(name);
    this.checkShape(m, delta, 'addShift');
    const w = this.weights.get(`${m.name}.weight`)!;
    this.assign(w, tf.tidy(() => tf.add(w, scale === 1 ? delta : tf.mul(delta, scale))));
  }

  /** A copy of the current weight (dIn, dOut); caller disposes. */
  readWeight(name: string): tf.Tensor2D {
    this.live();
    const m = this.module(name);
    return tf.clone(this.weights.get(`${m.name}.weight`)!) as tf.Tensor2D;
  }

  /** Replace the weight (dIn, dOut); the caller keeps ownership of `value`. */
  writeWeight(name: string, value: tf.Tensor2D): void {
    this.live();
    const m = this.module(name);
    this.checkShape(m, value, 'writeWeight');
    const w = this.weights.get(`${m.name}.weight`)!;
    this.assign(w, tf.tidy(() => tf.cast(value, 'float32')));
  }

  /** Point `w` at the data of `value` (shared, ref-counted) and release the `value` handle. */
  private assign(w: tf.Variable, value: tf.Tensor): void {
    try {
      w.assign(value);
    } finally {
      value.dispose();
    }
  }

  private checkShape(m: ModuleDescriptor, t: tf.Tensor, what: string): void {
    if (t.shape.length !== 2 || t.shape[0] !== m.dIn || t.shape[1] !== m.dOut) {
      throw new Error(`${what}(${m.name}): expected shape [${m.dIn},${m.dOut}] (dIn, dOut), got [${t.shape}]`);
    }
  }

  // ---------------------------------------------------------------- generation

  /** Runs `tokens` at absolute position pos0 against the cache, extending it; returns the argmax next id. */
  private step(tokens: number[], pos0: number, cache: LayerCache[]): number {
    const old = cache.slice();
    let next: tf.Tensor;
    try {
      next = tf.tidy(() => {
        const T = tokens.length;
        const ctx = this.ctx();
        const ids = tf.tensor2d(tokens, [1, T], 'int32');
        // A single new query may see every cached key; only a multi-token prefill needs the causal mask.
        const bias = T === 1 ? null : attentionBias(1, T, pos0 + T, pos0);
        const windowBias = windowedBiases(bias, (w) => attentionBias(1, T, pos0 + T, pos0, undefined, w), pos0 + T, this.config.layerWindows);
        const h = this.arch.hidden(ctx, this.config, { ids, B: 1, T, pos0, bias, windowBias, cache });
        const last = tf.slice(h, [T - 1, 0], [1, h.shape[1]]);
        return tf.argMax(this.head(ctx, last), 1);
      });
    } finally {
      // Entries replaced by this step are dropped; on failure the caller disposes what the cache holds.
      old.forEach((e, i) => {
        if (e && cache[i] !== e) tf.dispose([e.k, e.v]);
      });
    }
    try {
      return next.dataSync()[0];
    } finally {
      next.dispose();
    }
  }

  /**
   * Greedy continuation of `ids` with a KV cache: the prompt runs once, then each new token costs one
   * single-position forward. Returns only the new ids. stopAtEos (default false) stops after an EOS id.
   */
  generate(ids: number[], maxNewTokens: number, opts: { stopAtEos?: boolean } = {}): number[] {
    this.live();
    this.checkIds(ids, 'generate');
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) throw new Error(`generate: maxNewTokens must be an integer >= 0, got ${maxNewTokens}`);
    if (maxNewTokens === 0) return [];
    if (ids.length + maxNewTokens - 1 > this.maxLength) {
      throw new Error(`generate: ${ids.length} prompt tokens + ${maxNewTokens} new tokens exceed the model's ${this.maxLength} positions`);
    }
    const eos = new Set(this.config.eosTokenId === undefined ? [] : ([] as number[]).concat(this.config.eosTokenId));
    const cache: LayerCache[] = [];
    const out: number[] = [];
    try {
      let next = this.step(ids, 0, cache);
      for (;;) {
        out.push(next);
        if (out.length >= maxNewTokens || (opts.stopAtEos && eos.has(next))) break;
        next = this.step([next], ids.length + out.length - 1, cache);
      }
      return out;
    } finally {
      for (const e of cache) {
        e.k.dispose();
        e.v.dispose();
      }
    }
  }

  // ---------------------------------------------------------------- state

  /** sha256 (hex) over the weights as loaded or created: names, shapes and float32 bytes in checkpoint layout. */
  weightsHash(): string {
    return this.hash;
  }

  /** Current weights in checkpoint layout and names (including the file's prefix), on the host. */
  checkpointTensors(): { name: string; shape: number[]; data: Float32Array }[] {
    this.live();
    const out: { name: string; shape: number[]; data: Float32Array }[] = [];
    for (const s of this.specs.values()) {
      const w = this.weights.get(s.key)!;
      const t = s.transposed ? tf.transpose(w) : w;
      try {
        out.push({ name: s.key === 'lm_head.weight' ? s.key : this.prefix + s.key, shape: [...s.shape], data: t.dataSync() as Float32Array });
      } finally {
        if (t !== w) t.dispose();
      }
    }
    return out;
  }

  /**
   * Writes a Hugging Face directory (config.json, model.safetensors, tokenizer files when known) with
   * the current weights, in the source dtype (F32 when it was F64 or integer) or `opts.dtype`. The
   * directory is assembled in a temp sibling and renamed into place; an existing non-empty directory
   * that is not a model directory is refused.
   */
  async save(dir: string, opts: { dtype?: SaveDType } = {}): Promise<void> {
    this.live();
    const src = this.sourceDtype;
    const dtype: SaveDType = opts.dtype ?? (src === 'F16' || src === 'BF16' ? src : 'F32');
    await saveModelDirectory(dir, {
      config: this.config.raw,
      dtype,
      tensors: () => this.checkpointTensors(),
      tokenizerFiles: this.tokenizer?.files ?? [],
      sourceDir: this.dir,
    });
  }

  /**
   * Make every weight variable trainable (or not), e.g. to pretrain a small world model. Gradients
   * reach the weight variables (tf.variableGrads, optimizers) only while they are trainable; otherwise
   * forwards treat them as constants and compute no weight gradient.
   */
  setTrainable(trainable: boolean): void {
    this.live();
    for (const v of this.weights.values()) v.trainable = trainable;
    this.trainable = trainable;
  }

  /** The weight variables currently trainable, in checkpoint order. */
  trainableVariables(): tf.Variable[] {
    this.live();
    return [...this.specs.keys()].map((k) => this.weights.get(k)!).filter((v) => v.trainable);
  }

  /** Frees every weight. The model is unusable afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.weights.values()) v.dispose();
    this.weights.clear();
  }
}
