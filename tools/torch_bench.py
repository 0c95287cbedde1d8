#!/usr/bin/env python3
"""PyTorch side of the hiedit performance suite (tools/perf, `npm run bench`).

Runs the same workloads as the TypeScript suite on the same Hugging Face checkpoint files, with the same
thread count, and prints one JSON object on stdout. It needs only torch and numpy (no transformers, no
safetensors package): the safetensors reader and the GPT-2 / Llama forward passes below follow the Hugging
Face definitions (Conv1D + gelu_new for GPT-2; RMSNorm, rotate_half RoPE, grouped-query attention and
SwiGLU for Llama), so logits can be compared with ours as a sanity check.

Usage: torch_bench.py SPEC.json   (the spec is written by the TypeScript suite; see tools/perf/src/torch.ts)
"""
import json
import math
import os
import resource
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32}


def read_safetensors(path):
    """Returns {name: torch.Tensor(float32)}; BF16 is widened by bit shifting (numpy has no bfloat16)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        if n > 100_000_000:
            raise ValueError(f"{path}: header length {n} is implausible")
        header = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for name, e in header.items():
            if name == "__metadata__":
                continue
            start, end = e["data_offsets"]
            f.seek(base + start)
            raw = f.read(end - start)
            if e["dtype"] == "BF16":
                bits = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
                arr = bits.view(np.float32)
            elif e["dtype"] in DTYPES:
                arr = np.frombuffer(raw, dtype=DTYPES[e["dtype"]])
            else:
                raise ValueError(f"{path}: tensor {name}: unsupported dtype {e['dtype']}")
            t = torch.from_numpy(arr.copy()).reshape(e["shape"])
            out[name] = t.float() if t.is_floating_point() else t
        return out


def load_weights(model_dir):
    single = os.path.join(model_dir, "model.safetensors")
    if os.path.exists(single):
        return read_safetensors(single)
    index = os.path.join(model_dir, "model.safetensors.index.json")
    with open(index) as f:
        files = sorted(set(json.load(f)["weight_map"].values()))
    weights = {}
    for fn in files:
        weights.update(read_safetensors(os.path.join(model_dir, fn)))
    return weights


class GPT2:
    def __init__(self, cfg, w):
        w = {k[len("transformer."):] if k.startswith("transformer.") else k: v for k, v in w.items()}
        self.w = w
        self.n_layer = cfg["n_layer"]
        self.n_head = cfg["n_head"]
        self.d = cfg["n_embd"]
        self.eps = cfg.get("layer_norm_epsilon", 1e-5)
        self.lm_head = w.get("lm_head.weight", w["wte.weight"])

    def linear_names(self, layer):
        return {"mlp_in": f"h.{layer}.mlp.c_fc", "mlp_out": f"h.{layer}.mlp.c_proj"}

    def weight(self, name):
        return self.w[name + ".weight"]

    def forward(self, ids, cache=None, hook=None):
        """ids: (T,) LongTensor; cache: list of (k, v) per layer or None. Returns logits (T, V)."""
        w = self.w
        past = 0 if cache is None or cache[0] is None else cache[0][0].shape[1]
        T = ids.shape[0]
        pos = torch.arange(past, past + T)
        x = w["wte.weight"][ids] + w["wpe.weight"][pos]
        hd = self.d // self.n_head
        for i in range(self.n_layer):
            p = f"h.{i}."
            h = F.layer_norm(x, (self.d,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], self.eps)
            qkv = torch.addmm(w[p + "attn.c_attn.bias"], h, w[p + "attn.c_attn.weight"])
            q, k, v = qkv.split(self.d, dim=1)
            q = q.view(T, self.n_head, hd).transpose(0, 1)
            k = k.view(T, self.n_head, hd).transpose(0, 1)
            v = v.view(T, self.n_head, hd).transpose(0, 1)
            if cache is not None:
                if cache[i] is not None:
                    k = torch.cat([cache[i][0], k], dim=1)
                    v = torch.cat([cache[i][1], v], dim=1)
                cache[i] = (k, v)
            a = attention(q, k, v, past)
            a = a.transpose(0, 1).reshape(T, self.d)
            x = x + torch.addmm(w[p + "attn.c_proj.bias"], a, w[p + "attn.c_proj.weight"])
            h = F.layer_norm(x, (self.d,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], self.eps)
            u = torch.addmm(w[p + "mlp.c_fc.bias"], h, w[p + "mlp.c_fc.weight"])
            if hook:
                u = hook(f"h.{i}.mlp.c_fc", h, u)
            g = F.gelu(u, approximate="tanh")
            o = torch.addmm(w[p + "mlp.c_proj.bias"], g, w[p + "mlp.c_proj.weight"])
            if hook:
                o = hook(f"h.{i}.mlp.c_proj", g, o)
            x = x + o
        x = F.layer_norm(x, (self.d,), w["ln_f.weight"], w["ln_f.bias"], self.eps)
        return x @ self.lm_head.t()


class Llama:
    def __init__(self, cfg, w):
        self.w = w
        self.n_layer = cfg["num_hidden_layers"]
        self.n_head = cfg["num_attention_heads"]
        self.n_kv = cfg.get("num_key_value_heads", self.n_head)
        self.d = cfg["hidden_size"]
        self.hd = cfg.get("head_dim") or self.d // self.n_head
        self.eps = cfg.get("rms_norm_eps", 1e-6)
        theta = cfg.get("rope_theta", 10000.0)
        if cfg.get("rope_scaling"):
            raise ValueError("torch_bench: rope_scaling is not supported by this benchmark model")
        self.inv_freq = 1.0 / (theta ** (torch.arange(0, self.hd, 2, dtype=torch.float32) / self.hd))
        self.lm_head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
        self.bias = bool(cfg.get("attention_bias", False))

    def linear_names(self, layer):
        return {"mlp_in": f"model.layers.{layer}.mlp.up_proj", "mlp_out": f"model.layers.{layer}.mlp.down_proj"}

    def weight(self, name):
        return self.w[name + ".weight"]

    def rms(self, x, weight):
        var = x.pow(2).mean(-1, keepdim=True)
        return weight * (x * torch.rsqrt(var + self.eps))

    def rope(self, x, pos):
        freqs = torch.outer(pos.float(), self.inv_freq)
        emb = torch.cat([freqs, freqs], dim=-1)
        cos, sin = emb.cos(), emb.sin()
        half = x.shape[-1] // 2
        rot = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        return x * cos + rot * sin

    def lin(self, x, name):
        b = self.w.get(name + ".bias")
        return F.linear(x, self.w[name + ".weight"], b)

    def forward(self, ids, cache=None, hook=None):
        w = self.w
        past = 0 if cache is None or cache[0] is None else cache[0][0].shape[1]
        T = ids.shape[0]
        pos = torch.arange(past, past + T)
        x = w["model.embed_tokens.weight"][ids]
        rep = self.n_head // self.n_kv
        for i in range(self.n_layer):
            p = f"model.layers.{i}."
            h = self.rms(x, w[p + "input_layernorm.weight"])
            q = self.lin(h, p + "self_attn.q_proj").view(T, self.n_head, self.hd).transpose(0, 1)
            k = self.lin(h, p + "self_attn.k_proj").view(T, self.n_kv, self.hd).transpose(0, 1)
            v = self.lin(h, p + "self_attn.v_proj").view(T, self.n_kv, self.hd).transpose(0, 1)
            q = self.rope(q, pos)
            k = self.rope(k, pos)
            if cache is not None:
                if cache[i] is not None:
                    k = torch.cat([cache[i][0], k], dim=1)
                    v = torch.cat([cache[i][1], v], dim=1)
                cache[i] = (k, v)
            if rep > 1:
                k = k.repeat_interleave(rep, dim=0)
                v = v.repeat_interleave(rep, dim=0)
            a = attention(q, k, v, past).transpose(0, 1).reshape(T, self.n_head * self.hd)
            o = self.lin(a, p + "self_attn.o_proj")
            if hook:
                o = hook(f"model.layers.{i}.self_attn.o_proj", a, o)
            x = x + o
            h = self.rms(x, w[p + "post_attention_layernorm.weight"])
            gate = self.lin(h, p + "mlp.gate_proj")
            up = self.lin(h, p + "mlp.up_proj")
            if hook:
                up = hook(f"model.layers.{i}.mlp.up_proj", h, up)
            m = F.silu(gate) * up
            o = self.lin(m, p + "mlp.down_proj")
            if hook:
                o = hook(f"model.layers.{i}.mlp.down_proj", m, o)
            x = x + o
        x = self.rms(x, w["model.norm.weight"])
        return x @ self.lm_head.t()


def attention(q, k, v, past):
    """q (H, T, hd), k/v (H, S, hd) with S = past + T; causal."""
    T, S = q.shape[1], k.shape[1]
    scores = (q @ k.transpose(1, 2)) / math.sqrt(q.shape[-1])
    if T > 1:
        mask = torch.ones(T, S, dtype=torch.bool).tril(diagonal=past)
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def timed(fn, reps):
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def _nan_to_none(x):
    if isinstance(x, float) and x != x:
        return None
    if isinstance(x, dict):
        return {k: _nan_to_none(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_nan_to_none(v) for v in x]
    return x


# ---------------------------------------------------------------------------------------------------------------
# Edit workloads (issue 18): the arithmetic of one HiEdit edit and of one meta-training step, mirrored on the same
# checkpoint with the same sizes: trace with hooks on the candidate modules, the low-level network (MEND-style residual
# blocks of rank `rank` on [K | G], mapped back to module space), the HiNet gate, the rank-T shift -eta K~^T G~, the
# calibration's forwards under W + s * dense shift (as many as ours made), the apply, and the journal append (factors
# written and fsynced). The networks are at their initial weights, like ours (B = 0: the blocks start as identity).


def weight_io(model, name):
    """(dIn, dOut) view of a linear weight: GPT-2 stores Conv1D (dIn, dOut), Llama (dOut, dIn)."""
    w = model.weight(name)
    return w if isinstance(model, GPT2) else w.t()


class LowLevel:
    def __init__(self, d_in, d_out, n_modules, rank, blocks, eta, gen):
        D = d_in + d_out
        self.d_in, self.d_out = d_in, d_out
        self.params = []
        self.blocks = []
        for _ in range(blocks):
            A = (torch.randn(D, rank, generator=gen) / math.sqrt(D)).requires_grad_(True)
            B = torch.zeros(rank, D, requires_grad=True)
            c = torch.zeros(D, requires_grad=True)
            sc = torch.ones(n_modules, D, requires_grad=True)
            sh = torch.zeros(n_modules, D, requires_grad=True)
            self.blocks.append((A, B, c, sc, sh))
            self.params += [A, B, c, sc, sh]
        self.log_eta = torch.full((n_modules,), math.log(eta), requires_grad=True)
        self.params.append(self.log_eta)
        self.mean = torch.zeros(D)
        self.std = torch.ones(D)

    def shift(self, i, keys, grads):
        x = (torch.cat([keys, grads], 1) - self.mean) / self.std
        h = x
        for A, B, c, sc, sh in self.blocks:
            h = h + torch.clamp(h @ A @ B + c, min=0) * sc[i] + sh[i]
        h = h * self.std + self.mean
        k, g = h[:, : self.d_in], h[:, self.d_in :]
        return -torch.exp(self.log_eta[i]) * k.t(), g


class Gate:
    def __init__(self, d_in, d_out, n_modules, hidden, gen):
        D = d_in + d_out
        self.W = (torch.randn(D, hidden, generator=gen) / math.sqrt(D)).requires_grad_(True)
        self.b = torch.zeros(hidden, requires_grad=True)
        self.sc = torch.ones(n_modules, hidden, requires_grad=True)
        self.sh = torch.zeros(n_modules, hidden, requires_grad=True)
        self.gW = (torch.randn(hidden * n_modules, n_modules, generator=gen) / math.sqrt(hidden * n_modules)).requires_grad_(True)
        self.gb = torch.zeros(n_modules, requires_grad=True)
        self.params = [self.W, self.b, self.sc, self.sh, self.gW, self.gb]

    def scores(self, feats):
        pooled = [(torch.relu(torch.cat([k, g], 1) @ self.W + self.b) * self.sc[i] + self.sh[i]).mean(0) for i, (k, g) in enumerate(feats)]
        return (torch.cat(pooled).reshape(1, -1) @ self.gW + self.gb).reshape(-1)


def label_rows(labels):
    rows = [i for i, l in enumerate(labels) if l != -100]
    return torch.tensor(rows, dtype=torch.long), torch.tensor([labels[i] for i in rows], dtype=torch.long)


def log_probs_under(model, ids, rows, shifts):
    """Log-probabilities at the label rows with W + shift for each (name, dense (dIn, dOut)) in `shifts`."""
    saved = {}
    try:
        for name, d in shifts.items():
            key = name + ".weight"
            saved[key] = model.w[key]
            model.w[key] = saved[key] + (d if isinstance(model, GPT2) else d.t())
        return F.log_softmax(model.forward(ids)[rows], -1)
    finally:
        for key, w0 in saved.items():
            model.w[key] = w0


def hooked_grads(model, ids, names, loss_of_logits):
    """Keys (module inputs) and value gradients (d loss / d module outputs) of the modules `names`, as hiedit's trace."""
    keys, deltas = {}, {}

    def hook(name, inp, outp):
        if name not in names:
            return outp
        keys[name] = inp.detach()
        d = torch.zeros_like(outp, requires_grad=True)
        deltas[name] = d
        return outp + d

    loss = loss_of_logits(model.forward(ids, hook=hook))
    traced = list(deltas)
    grads = torch.autograd.grad(loss, [deltas[n] for n in traced])
    return keys, dict(zip(traced, grads))


def edit_trace(model, ids, rows, targets, names):
    keys, grads = hooked_grads(model, ids, set(names), lambda logits: F.cross_entropy(logits[rows], targets))
    return [(keys[n], grads[n]) for n in names]


def run_edit(spec):
    threads = int(spec["threads"])
    torch.set_num_threads(int(spec.get("intra_op_threads", threads)))
    out = {"torch_version": torch.__version__, "threads": torch.get_num_threads(), "blas_threads": threads, "load": {}}
    for dtype, key in (("BF16", "model_bf16"), ("F32", "model")):
        if not spec.get(key):
            continue
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t0 = time.perf_counter()
        w = load_weights(spec[key])
        out["load"][dtype] = {"load_ms": (time.perf_counter() - t0) * 1000,
                              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "peak_rss_before_mb": rss0}
        if dtype == "BF16":
            del w
    with open(os.path.join(spec["model"], "config.json")) as f:
        cfg = json.load(f)
    model = GPT2(cfg, w) if spec["architecture"] == "gpt2" else Llama(cfg, w)
    ids = torch.tensor(spec["ids"], dtype=torch.long)
    rows, targets = label_rows(spec["labels"])
    loc_ids = torch.tensor(spec["locality_ids"], dtype=torch.long)
    loc_rows, _ = label_rows(spec["locality_labels"])
    names = spec["edit_modules"]
    shapes = [tuple(weight_io(model, n).shape) for n in names]
    d_in, d_out = shapes[0]
    M, k = len(names), int(spec["k"])
    gen = torch.Generator().manual_seed(int(spec.get("seed", 1)))
    low = LowLevel(d_in, d_out, M, int(spec["rank"]), int(spec["blocks"]), float(spec["eta"]), gen)
    gate = Gate(d_in, d_out, M, int(spec["high_hidden"]), gen)
    selected = [names.index(n) for n in spec["selected"]] or list(range(k))
    reps = spec["reps"]
    jdir = spec["journal_dir"]
    os.makedirs(jdir, exist_ok=True)
    jfile = os.path.join(jdir, "journal.bin")
    phases = {"trace": [], "policy": [], "calibration": [], "apply": [], "journal": []}
    totals = []
    for rep in range(reps["edit"] + 1):
        t = [time.perf_counter()]
        feats = edit_trace(model, ids, rows, targets, names)
        t.append(time.perf_counter())
        with torch.no_grad():
            factors = [low.shift(i, kk, g) for i, (kk, g) in enumerate(feats)]
            scores = gate.scores(feats)
            top = torch.topk(scores, k).indices.tolist()
        t.append(time.perf_counter())
        with torch.no_grad():
            dense = {names[i]: factors[i][0] @ factors[i][1] for i in selected}
            for j in range(int(spec["calibration_forwards"])):
                s = 2.0 ** (j % 5 - 2)
                lp = log_probs_under(model, ids, rows, {n: d * s for n, d in dense.items()})
                float((lp.gather(1, targets[:, None]).squeeze(1) - lp.max(1).values).min())
        t.append(time.perf_counter())
        with torch.no_grad():
            applied = []
            for i in selected:
                left, right = factors[i]
                w_io = weight_io(model, names[i])
                w_io.add_(left @ right)
                applied.append((i, left, right))
        t.append(time.perf_counter())
        with open(jfile, "ab") as f:
            for i, left, right in applied:
                f.write(left.contiguous().numpy().tobytes())
                f.write(right.contiguous().numpy().tobytes())
            f.flush()
            os.fsync(f.fileno())
        t.append(time.perf_counter())
        with torch.no_grad():  # untimed, like ours: every rep edits the same weights
            for i, left, right in applied:
                weight_io(model, names[i]).sub_(left @ right)
        if rep > 0:
            for key, a, b in zip(phases, t, t[1:]):
                phases[key].append((b - a) * 1000)
            totals.append((t[-1] - t[0]) * 1000)
    out["edit_ms"] = statistics.median(totals)
    out["phases_ms"] = {key: statistics.median(v) for key, v in phases.items()}
    out["top_k"] = top

    # forward+backward of the same prompt, gradients w.r.t. the candidate weights (the floor of an edit)
    def fwd_bwd():
        params = [model.weight(n) for n in names]
        for p in params:
            p.requires_grad_(True)
        try:
            nxt = F.cross_entropy(model.forward(ids)[:-1], ids[1:])
            return torch.autograd.grad(nxt, params)
        finally:
            for p in params:
                p.requires_grad_(False)

    out["forward_backward_ms"] = timed(fwd_bwd, reps["backward"])

    # one meta-training step: trace, locality reference, the no-grad forwards ours made (calibration and gate
    # targets), the gradient pass through W + dense(theta) for every candidate, and an Adam update.
    opt = torch.optim.Adam(low.params + gate.params, lr=1e-4)

    def meta_step():
        feats = edit_trace(model, ids, rows, targets, names)
        with torch.no_grad():
            p_before = F.softmax(model.forward(loc_ids)[loc_rows], -1)
            f0 = [low.shift(i, kk, g) for i, (kk, g) in enumerate(feats)]
            for j in range(int(spec["meta_nograd_forwards"])):
                i = j % M
                log_probs_under(model, ids, rows, {names[i]: f0[i][0] @ f0[i][1] * 2.0 ** (j % 5 - 2)})
        fac = [low.shift(i, kk, g) for i, (kk, g) in enumerate(feats)]
        scores = gate.scores(feats)
        mask = torch.zeros(M)
        mask[torch.topk(scores.detach(), k).indices] = 1
        shifts = {names[i]: (fac[i][0] @ fac[i][1]) * mask[i] for i in range(M)}
        lp = log_probs_under(model, ids, rows, shifts)
        gen_loss = -lp.gather(1, targets[:, None]).mean()
        lq = log_probs_under(model, loc_ids, loc_rows, shifts)
        loc_loss = (p_before * (torch.log(p_before + 1e-30) - lq)).sum(1).mean()
        target = torch.zeros(M)
        target[selected] = 1 / len(selected)
        total = gen_loss + loc_loss - (target * F.log_softmax(scores, 0)).sum()
        opt.zero_grad()
        total.backward()
        opt.step()

    out["meta_step_ms"] = timed(meta_step, reps["meta_step"]) if reps["meta_step"] > 0 else None
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main():
    if len(sys.argv) != 2:
        print("usage: torch_bench.py SPEC.json", file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    if spec.get("mode") == "edit":
        json.dump(_nan_to_none(run_edit(spec)), sys.stdout)
        sys.stdout.write("\n")
        return 0
    threads = int(spec["threads"])
    model_dir = spec["model"]
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    t0 = time.perf_counter()
    w = load_weights(model_dir)
    arch = spec["architecture"]
    model = GPT2(cfg, w) if arch == "gpt2" else Llama(cfg, w)
    load_ms = (time.perf_counter() - t0) * 1000
    reps = spec["reps"]
    ids = torch.tensor(spec["ids"], dtype=torch.long)
    out = {"torch_version": torch.__version__, "load_ms": load_ms}

    # Same core budget as ours: OpenBLAS gets `threads` (OPENBLAS_NUM_THREADS, set by the suite) and torch's
    # intra-op pool `intra_op_threads` (the suite runs this script once with `threads` and once with 1 and keeps
    # PyTorch's better number per metric: on a small shared machine torch.set_num_threads(n > 1) can be many
    # times slower, OpenMP workers spinning against the BLAS threads). Without it in the spec, both settings
    # are probed on the forward and the faster one is used.
    probe = {}
    if "intra_op_threads" in spec:
        best = int(spec["intra_op_threads"])
    else:
        with torch.inference_mode():
            for intra in sorted({threads, 1}, reverse=True):
                torch.set_num_threads(intra)
                probe[intra] = timed(lambda: model.forward(ids), 3)
        best = min(probe, key=probe.get)
    torch.set_num_threads(best)
    out["threads"] = torch.get_num_threads()
    out["blas_threads"] = threads
    out["intra_op_probe_ms"] = {str(k): v for k, v in probe.items()}

    with torch.inference_mode():
        logits = model.forward(ids)
        out["loss"] = F.cross_entropy(logits[:-1], ids[1:]).item()
        out["logits_probe"] = logits[-1, :8].tolist()
        out["forward_ms"] = timed(lambda: model.forward(ids), reps["forward"])

    # forward + backward: gradient of the loss with respect to three MLP weights, nothing else.
    grad_names = spec["grad_params"]

    def fwd_bwd():
        params = [model.weight(n) for n in grad_names]
        for p in params:
            p.requires_grad_(True)
        try:
            logits = model.forward(ids)
            loss = F.cross_entropy(logits[:-1], ids[1:])
            grads = torch.autograd.grad(loss, params)
        finally:
            for p in params:
                p.requires_grad_(False)
        return grads

    out["forward_backward_ms"] = timed(fwd_bwd, reps["backward"])

    # trace: keys (module inputs) and value gradients (d loss / d module outputs) of six modules.
    trace_names = set(spec["trace_modules"])

    def trace():
        return hooked_grads(model, ids, trace_names, lambda logits: F.cross_entropy(logits[:-1], ids[1:]))

    out["trace_ms"] = timed(trace, reps["trace"])

    # greedy generation with a KV cache: per-token cost from the difference of G and 1 new tokens, so
    # the prefill of the context is not counted.
    def generate(ctx, n_new):
        with torch.inference_mode():
            cache = [None] * model.n_layer
            logits = model.forward(torch.tensor(ctx, dtype=torch.long), cache=cache)
            nxt = int(logits[-1].argmax())
            toks = [nxt]
            for _ in range(n_new - 1):
                logits = model.forward(torch.tensor([nxt], dtype=torch.long), cache=cache)
                nxt = int(logits[-1].argmax())
                toks.append(nxt)
            return toks

    gens = []
    for g in spec["generation"]:
        ctx, n_new = g["ids"], g["new_tokens"]
        generate(ctx, n_new)  # warm-up
        diffs = []
        # Back to back in each rep, median of the differences: the prefill cancels, and so does load.
        for _ in range(reps["generation"]):
            t0 = time.perf_counter()
            generate(ctx, 1)
            t1 = time.perf_counter()
            generate(ctx, n_new)
            t2 = time.perf_counter()
            diffs.append(((t2 - t1) - (t1 - t0)) * 1000 / (n_new - 1))
        per = statistics.median(diffs)
        per = per if per > 0 else float("nan")
        gens.append({"context": len(ctx), "new_tokens": n_new, "ms_per_token": per,
                     "tokens_per_s": 1000 / per if per == per else float("nan"),
                     "first_ids": generate(ctx, min(n_new, 8))})
    out["generation"] = gens

    mm = []
    for s in spec["matmul_shapes"]:
        m, k, n, trans_b = s["m"], s["k"], s["n"], s["transB"]
        a = torch.randn(m, k)
        b = torch.randn(n, k) if trans_b else torch.randn(k, n)
        fn = (lambda: a @ b.t()) if trans_b else (lambda: a @ b)
        ms = timed(fn, s["reps"])
        mm.append({"m": m, "k": k, "n": n, "transB": trans_b, "ms": ms, "gflops": 2 * m * k * n / ms / 1e6})
    out["matmul"] = mm
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # NaN is not JSON: a measurement lost in noise becomes null.
    json.dump(_nan_to_none(out), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
