/**
 * A deliberately naive float64 forward of GPT-2 and Llama-family checkpoints, written from the
 * Hugging Face definitions with plain loops and no code shared with src/, used as an independent oracle
 * for configurations the reference fixtures do not cover (rope scaling, biases, tied heads, dtypes).
 */
type Weights = Map<string, Float64Array>;
type Raw = Record<string, any>;

function get(w: Weights, name: string): Float64Array {
  const t = w.get(name);
  if (!t) throw new Error(`naive: missing ${name}`);
  return t;
}

/** nn.Linear layout (out, in). */
function linearOI(x: Float64Array, W: Float64Array, b: Float64Array | undefined, dOut: number): Float64Array {
  const dIn = x.length;
  const y = new Float64Array(dOut);
  for (let o = 0; o < dOut; o++) {
    let s = b ? b[o] : 0;
    for (let i = 0; i < dIn; i++) s += W[o * dIn + i] * x[i];
    y[o] = s;
  }
  return y;
}

/** Conv1D layout (in, out). */
function linearIO(x: Float64Array, W: Float64Array, b: Float64Array, dOut: number): Float64Array {
  const y = Float64Array.from(b);
  for (let i = 0; i < x.length; i++) for (let o = 0; o < dOut; o++) y[o] += x[i] * W[i * dOut + o];
  return y;
}

function layerNorm(x: Float64Array, g: Float64Array, b: Float64Array, eps: number): Float64Array {
  let mean = 0;
  for (const v of x) mean += v;
  mean /= x.length;
  let vr = 0;
  for (const v of x) vr += (v - mean) * (v - mean);
  vr /= x.length;
  return x.map((v, i) => ((v - mean) / Math.sqrt(vr + eps)) * g[i] + b[i]);
}

function rmsNorm(x: Float64Array, g: Float64Array, eps: number): Float64Array {
  let ms = 0;
  for (const v of x) ms += v * v;
  ms /= x.length;
  return x.map((v, i) => (v / Math.sqrt(ms + eps)) * g[i]);
}

/** erf by its Maclaurin series (|x| small) or continued fraction; ample precision for tests. */
function erf(x: number): number {
  if (Math.abs(x) < 3) {
    let sum = 0;
    let term = x;
    for (let n = 0; n < 200; n++) {
      sum += term / (2 * n + 1);
      term *= (-x * x) / (n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  return Math.sign(x) * (1 - Math.exp(-x * x) / (Math.abs(x) * Math.sqrt(Math.PI)));
}

function act(name: string, v: number): number {
  switch (name) {
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
      return 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
    case 'gelu':
      return 0.5 * v * (1 + erf(v / Math.SQRT2));
    case 'relu':
      return Math.max(0, v);
    case 'silu':
      return v / (1 + Math.exp(-v));
    default:
      throw new Error(`naive: activation ${name}`);
  }
}

/** Softmax-weighted sum of values for one query over keys 0..t. */
function attend(q: Float64Array, keys: Float64Array[], vals: Float64Array[], scale: number): Float64Array {
  const s = keys.map((k) => q.reduce((a, qi, i) => a + qi * k[i], 0) * scale);
  const m = Math.max(...s);
  const e = s.map((x) => Math.exp(x - m));
  const z = e.reduce((a, b) => a + b, 0);
  const out = new Float64Array(vals[0].length);
  vals.forEach((v, j) => v.forEach((x, i) => (out[i] += (e[j] / z) * x)));
  return out;
}

function logitsOf(x: Float64Array, head: Float64Array, V: number): Float64Array {
  return linearOI(x, head, undefined, V);
}

/** GPT-2 logits (T * V), row-major. */
export function naiveGpt2(raw: Raw, w: Weights, ids: number[]): Float64Array {
  const d = raw.n_embd;
  const H = raw.n_head;
  const hd = d / H;
  const inner = raw.n_inner ?? 4 * d;
  const V = raw.vocab_size;
  const eps = raw.layer_norm_epsilon ?? 1e-5;
  const T = ids.length;
  let xs = ids.map((id, t) => {
    const e = get(w, 'wte.weight').subarray(id * d, id * d + d);
    const p = get(w, 'wpe.weight').subarray(t * d, t * d + d);
    return e.map((v, i) => v + p[i]);
  });
  for (let l = 0; l < raw.n_layer; l++) {
    const p = `h.${l}`;
    const qkv = xs.map((x) => linearIO(layerNorm(x, get(w, `${p}.ln_1.weight`), get(w, `${p}.ln_1.bias`), eps), get(w, `${p}.attn.c_attn.weight`), get(w, `${p}.attn.c_attn.bias`), 3 * d));
    let scale = raw.scale_attn_weights === false ? 1 : 1 / Math.sqrt(hd);
    if (raw.scale_attn_by_inverse_layer_idx) scale /= l + 1;
    const att = xs.map((_, t) => {
      const out = new Float64Array(d);
      for (let h = 0; h < H; h++) {
        const q = qkv[t].slice(h * hd, h * hd + hd);
        const ks = qkv.slice(0, t + 1).map((r) => r.slice(d + h * hd, d + h * hd + hd));
        const vs = qkv.slice(0, t + 1).map((r) => r.slice(2 * d + h * hd, 2 * d + h * hd + hd));
        out.set(attend(q, ks, vs, scale), h * hd);
      }
      return out;
    });
    xs = xs.map((x, t) => {
      const a = linearIO(att[t], get(w, `${p}.attn.c_proj.weight`), get(w, `${p}.attn.c_proj.bias`), d);
      return x.map((v, i) => v + a[i]);
    });
    xs = xs.map((x) => {
      const hdn = linearIO(layerNorm(x, get(w, `${p}.ln_2.weight`), get(w, `${p}.ln_2.bias`), eps), get(w, `${p}.mlp.c_fc.weight`), get(w, `${p}.mlp.c_fc.bias`), inner);
      const m = linearIO(hdn.map((v) => act(raw.activation_function ?? 'gelu_new', v)), get(w, `${p}.mlp.c_proj.weight`), get(w, `${p}.mlp.c_proj.bias`), d);
      return x.map((v, i) => v + m[i]);
    });
  }
  const head = raw.tie_word_embeddings === false ? get(w, 'lm_head.weight') : get(w, 'wte.weight');
  const out = new Float64Array(T * V);
  xs.forEach((x, t) => out.set(logitsOf(layerNorm(x, get(w, 'ln_f.weight'), get(w, 'ln_f.bias'), eps), head, V), t * V));
  return out;
}

/** Inverse frequencies per Hugging Face's rope init functions (default, linear, llama3). */
export function naiveInvFreq(raw: Raw, hd: number): number[] {
  const theta = raw.rope_theta ?? 10000;
  const base = Array.from({ length: hd / 2 }, (_, i) => theta ** (-(2 * i) / hd));
  const rs = raw.rope_scaling;
  if (!rs) return base;
  const type = rs.rope_type ?? rs.type;
  if (type === 'linear') return base.map((f) => f / rs.factor);
  if (type !== 'llama3') throw new Error(`naive: rope type ${type}`);
  const lowWl = rs.original_max_position_embeddings / rs.low_freq_factor;
  const highWl = rs.original_max_position_embeddings / rs.high_freq_factor;
  return base.map((f) => {
    const wl = (2 * Math.PI) / f;
    if (wl < highWl) return f;
    if (wl > lowWl) return f / rs.factor;
    const smooth = (rs.original_max_position_embeddings / wl - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
    return (1 - smooth) * (f / rs.factor) + smooth * f;
  });
}

/** x * cos + rotate_half(x) * sin, with rotate_half(x) = [-x2, x1]. */
function rope(x: Float64Array, pos: number, inv: number[]): Float64Array {
  const half = x.length / 2;
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const ang = pos * inv[i % half];
    const rot = i < half ? -x[i + half] : x[i - half];
    out[i] = x[i] * Math.cos(ang) + rot * Math.sin(ang);
  }
  return out;
}

/** Llama / Mistral / Qwen2 logits (T * V), row-major. */
export function naiveLlama(raw: Raw, w: Weights, ids: number[]): Float64Array {
  const d = raw.hidden_size;
  const H = raw.num_attention_heads;
  const KV = raw.num_key_value_heads ?? H;
  const hd = raw.head_dim ?? d / H;
  const I = raw.intermediate_size;
  const V = raw.vocab_size;
  const eps = raw.rms_norm_eps;
  const inv = naiveInvFreq(raw, hd);
  const qkvBias = raw.model_type === 'qwen2' || raw.attention_bias === true;
  const oBias = raw.model_type === 'llama' && raw.attention_bias === true;
  const mBias = raw.mlp_bias === true;
  const B = (name: string, on: boolean): Float64Array | undefined => (on ? get(w, name) : undefined);
  const T = ids.length;
  let xs = ids.map((id) => get(w, 'model.embed_tokens.weight').slice(id * d, id * d + d));
  for (let l = 0; l < raw.num_hidden_layers; l++) {
    const a = `model.layers.${l}.self_attn`;
    const m = `model.layers.${l}.mlp`;
    const hs = xs.map((x) => rmsNorm(x, get(w, `model.layers.${l}.input_layernorm.weight`), eps));
    const q = hs.map((h) => linearOI(h, get(w, `${a}.q_proj.weight`), B(`${a}.q_proj.bias`, qkvBias), H * hd));
    const k = hs.map((h) => linearOI(h, get(w, `${a}.k_proj.weight`), B(`${a}.k_proj.bias`, qkvBias), KV * hd));
    const v = hs.map((h) => linearOI(h, get(w, `${a}.v_proj.weight`), B(`${a}.v_proj.bias`, qkvBias), KV * hd));
    const att = xs.map((_, t) => {
      const out = new Float64Array(H * hd);
      for (let h = 0; h < H; h++) {
        const g = Math.floor(h / (H / KV));
        const qh = rope(q[t].slice(h * hd, h * hd + hd), t, inv);
        const ks = k.slice(0, t + 1).map((r, j) => rope(r.slice(g * hd, g * hd + hd), j, inv));
        const vs = v.slice(0, t + 1).map((r) => r.slice(g * hd, g * hd + hd));
        out.set(attend(qh, ks, vs, 1 / Math.sqrt(hd)), h * hd);
      }
      return out;
    });
    xs = xs.map((x, t) => {
      const o = linearOI(att[t], get(w, `${a}.o_proj.weight`), B(`${a}.o_proj.bias`, oBias), d);
      return x.map((val, i) => val + o[i]);
    });
    xs = xs.map((x) => {
      const h = rmsNorm(x, get(w, `model.layers.${l}.post_attention_layernorm.weight`), eps);
      const gate = linearOI(h, get(w, `${m}.gate_proj.weight`), B(`${m}.gate_proj.bias`, mBias), I);
      const up = linearOI(h, get(w, `${m}.up_proj.weight`), B(`${m}.up_proj.bias`, mBias), I);
      const prod = gate.map((gv, i) => act(raw.hidden_act ?? 'silu', gv) * up[i]);
      const down = linearOI(prod, get(w, `${m}.down_proj.weight`), B(`${m}.down_proj.bias`, mBias), d);
      return x.map((val, i) => val + down[i]);
    });
  }
  const head = raw.tie_word_embeddings ? get(w, 'model.embed_tokens.weight') : get(w, 'lm_head.weight');
  const out = new Float64Array(T * V);
  xs.forEach((x, t) => out.set(logitsOf(rmsNorm(x, get(w, 'model.norm.weight'), eps), head, V), t * V));
  return out;
}

/** Which layers slide, and by how much, as Gemma2Config / Qwen3Config define it (null: full attention). */
function naiveWindows(raw: Raw): (number | null)[] {
  const L = raw.num_hidden_layers;
  const gemma = raw.model_type === 'gemma2';
  let window: number | null;
  if (gemma) window = raw.sliding_window === undefined ? 4096 : raw.sliding_window;
  else window = raw.use_sliding_window ? (raw.sliding_window === undefined ? 4096 : raw.sliding_window) : null;
  const types: string[] = raw.layer_types ?? Array.from({ length: L }, (_, i) =>
    (gemma ? i % 2 === 0 : i >= (raw.max_window_layers ?? 28)) ? 'sliding_attention' : 'full_attention');
  return types.map((t) => (t === 'sliding_attention' ? window : null));
}

/**
 * Gemma-2 and Qwen3 logits (T * V), row-major, from the Hugging Face modeling code's definitions: Gemma-2's
 * sqrt(hidden) embedding scale, (1 + w) norms around both sublayers, query_pre_attn_scalar, soft-capped scores and
 * logits; Qwen3's per-head q/k norms; both with per-layer sliding windows (key j visible from query t iff
 * t - window < j <= t).
 */
export function naiveGemma2Qwen3(raw: Raw, w: Weights, ids: number[]): Float64Array {
  const gemma = raw.model_type === 'gemma2';
  const d = raw.hidden_size;
  const H = raw.num_attention_heads;
  const KV = raw.num_key_value_heads ?? (gemma ? 4 : 32);
  const hd = raw.head_dim ?? (gemma ? 256 : 128);
  const I = raw.intermediate_size;
  const V = raw.vocab_size;
  const eps = raw.rms_norm_eps ?? 1e-6;
  const inv = naiveInvFreq(raw, hd);
  const bias = raw.attention_bias === true;
  const windows = naiveWindows(raw);
  const cap = (name: string, dflt: number): number | null => (gemma ? (raw[name] === undefined ? dflt : raw[name]) : null);
  const attnCap = cap('attn_logit_softcapping', 50);
  const finalCap = cap('final_logit_softcapping', 30);
  const scale = gemma ? (raw.query_pre_attn_scalar ?? 256) ** -0.5 : 1 / Math.sqrt(hd);
  const actName: string = gemma ? raw.hidden_activation ?? 'gelu_pytorch_tanh' : raw.hidden_act ?? 'silu';
  const norm = (x: Float64Array, name: string): Float64Array => rmsNorm(x, gemma ? get(w, name).map((g) => 1 + g) : get(w, name), eps);
  const B = (name: string): Float64Array | undefined => (bias ? get(w, name) : undefined);
  const T = ids.length;
  let xs = ids.map((id) => get(w, 'model.embed_tokens.weight').slice(id * d, id * d + d).map((v) => (gemma ? v * Math.sqrt(d) : v)));
  for (let l = 0; l < raw.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    const a = `${p}.self_attn`;
    const hs = xs.map((x) => norm(x, `${p}.input_layernorm.weight`));
    const heads = (name: string, n: number, normName: string | null): Float64Array[][] => hs.map((h) => {
      const y = linearOI(h, get(w, `${a}.${name}.weight`), B(`${a}.${name}.bias`), n * hd);
      return Array.from({ length: n }, (_, i) => {
        const one = y.slice(i * hd, i * hd + hd);
        return normName && !gemma ? rmsNorm(one, get(w, `${a}.${normName}.weight`), eps) : one;
      });
    });
    const q = heads('q_proj', H, 'q_norm');
    const k = heads('k_proj', KV, 'k_norm');
    const v = heads('v_proj', KV, null);
    const win = windows[l];
    const att = xs.map((_, t) => {
      const out = new Float64Array(H * hd);
      for (let h = 0; h < H; h++) {
        const g = Math.floor(h / (H / KV));
        const qh = rope(q[t][h], t, inv);
        const visible = Array.from({ length: t + 1 }, (_, j) => j).filter((j) => win === null || t - j < win);
        const s = visible.map((j) => {
          const kj = rope(k[j][g], j, inv);
          const raw0 = qh.reduce((acc, qi, i) => acc + qi * kj[i], 0) * scale;
          return attnCap === null ? raw0 : attnCap * Math.tanh(raw0 / attnCap);
        });
        const m = Math.max(...s);
        const e = s.map((x) => Math.exp(x - m));
        const z = e.reduce((x, y) => x + y, 0);
        visible.forEach((j, n) => v[j][g].forEach((x, i) => (out[h * hd + i] += (e[n] / z) * x)));
      }
      return out;
    });
    xs = xs.map((x, t) => {
      let o = linearOI(att[t], get(w, `${a}.o_proj.weight`), B(`${a}.o_proj.bias`), d);
      if (gemma) o = norm(o, `${p}.post_attention_layernorm.weight`);
      return x.map((val, i) => val + o[i]);
    });
    xs = xs.map((x) => {
      const h = norm(x, gemma ? `${p}.pre_feedforward_layernorm.weight` : `${p}.post_attention_layernorm.weight`);
      const gate = linearOI(h, get(w, `${p}.mlp.gate_proj.weight`), undefined, I);
      const up = linearOI(h, get(w, `${p}.mlp.up_proj.weight`), undefined, I);
      let down = linearOI(gate.map((gv, i) => act(actName, gv) * up[i]), get(w, `${p}.mlp.down_proj.weight`), undefined, d);
      if (gemma) down = norm(down, `${p}.post_feedforward_layernorm.weight`);
      return x.map((val, i) => val + down[i]);
    });
  }
  const tied = raw.tie_word_embeddings ?? gemma;
  const head = tied ? get(w, 'model.embed_tokens.weight') : get(w, 'lm_head.weight');
  const out = new Float64Array(T * V);
  xs.forEach((x, t) => {
    const logits = logitsOf(norm(x, 'model.norm.weight'), head, V);
    out.set(finalCap === null ? logits : logits.map((z) => finalCap * Math.tanh(z / finalCap)), t * V);
  });
  return out;
}

/** Mean next-token cross-entropy of oracle logits (T * V) for `ids`. */
export function naiveLoss(logits: Float64Array, ids: number[], V: number): number {
  let sum = 0;
  for (let t = 0; t + 1 < ids.length; t++) {
    const row = logits.subarray(t * V, t * V + V);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((a, z) => a + Math.exp(z - m), 0));
    sum += lse - row[ids[t + 1]];
  }
  return sum / (ids.length - 1);
}
