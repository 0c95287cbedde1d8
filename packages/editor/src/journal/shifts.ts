/**
 * Moving shifts between device tensors and their stored (host, float32) form, and applying stored
 * shifts to a model all-or-nothing.
 */
import { createHash } from 'crypto';
import { EditableModel, ParameterShift, tf } from '@hiedit/tensor-core';
import { JournalHeader, StoredShift } from './records';

/** Copies a device shift to host memory, keeping low-rank factors factored. */
export function storeShift(module: string, shift: ParameterShift): StoredShift {
  if (shift.kind === 'lowRank') {
    const [dIn, rank] = shift.left.shape;
    const [rank2, dOut] = shift.right.shape;
    if (rank !== rank2) throw new Error(`shift of ${module}: factor ranks differ (${rank} vs ${rank2})`);
    return { module, kind: 'lowRank', dIn, dOut, rank, left: shift.left.dataSync() as Float32Array,
      right: shift.right.dataSync() as Float32Array };
  }
  const [dIn, dOut] = shift.delta.shape;
  return { module, kind: 'dense', dIn, dOut, delta: shift.delta.dataSync() as Float32Array };
}

/** The dense (dIn, dOut) delta of a stored shift, as a new tensor the caller disposes. */
export function shiftDelta(s: StoredShift): tf.Tensor2D {
  if (s.kind === 'dense') return tf.tensor2d(s.delta, [s.dIn, s.dOut], 'float32');
  return tf.tidy(() => tf.matMul(tf.tensor2d(s.left, [s.dIn, s.rank]), tf.tensor2d(s.right, [s.rank, s.dOut])));
}

/** Frobenius norm of a device shift without materializing a low-rank product: ||LR||^2 = tr((L^T L)(R R^T)). */
export function shiftNorm(shift: ParameterShift): number {
  return tf.tidy(() => {
    if (shift.kind === 'dense') return tf.norm(shift.delta).dataSync()[0];
    const lt = tf.matMul(shift.left, shift.left, true, false);
    const rr = tf.matMul(shift.right, shift.right, false, true);
    return Math.sqrt(Math.max(0, tf.sum(tf.mul(lt, rr)).dataSync()[0]));
  });
}

/** Checks that every value of a stored shift is finite (a NaN written into weights is unrecoverable). */
export function assertFinite(s: StoredShift, where: string): void {
  const arrays = s.kind === 'dense' ? [s.delta] : [s.left, s.right];
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) {
      if (!Number.isFinite(a[i])) throw new Error(`${where}: shift of ${s.module} holds a non-finite value at index ${i}`);
    }
  }
}

/** Above this many weight elements, undo of a failed apply subtracts instead of keeping a snapshot. */
const SNAPSHOT_LIMIT = 1 << 26;

/** A pending application: `commit` keeps it, `undo` restores the touched weights. */
export interface PendingApply {
  commit(): void;
  undo(): void;
}

/**
 * Adds `scale` times every shift to the model and returns a handle that can still undo it. Validates
 * names, shapes and finiteness before touching anything; if a step fails, restores the touched
 * weights and rethrows, so the model is never left half-edited. Undo is exact (from a snapshot) when
 * the touched weights hold at most 2^26 elements, else it subtracts the shifts again.
 */
export function beginApply(model: EditableModel, shifts: readonly StoredShift[], scale = 1, where = 'apply'): PendingApply {
  for (const s of shifts) {
    const m = model.module(s.module);
    if (m.dIn !== s.dIn || m.dOut !== s.dOut) {
      throw new Error(`${where}: shift of ${s.module} is ${s.dIn}x${s.dOut}, the model's module is ${m.dIn}x${m.dOut}`);
    }
    assertFinite(s, where);
  }
  const touched = [...new Set(shifts.map((s) => s.module))];
  const elements = touched.reduce((n, name) => { const m = model.module(name); return n + m.dIn * m.dOut; }, 0);
  const snapshot = new Map<string, tf.Tensor2D>();
  const applied: StoredShift[] = [];
  const release = (): void => { for (const w of snapshot.values()) w.dispose(); snapshot.clear(); };
  const undo = (): void => {
    if (snapshot.size > 0) {
      for (const [name, w] of snapshot) model.writeWeight(name, w);
    } else {
      for (const s of [...applied].reverse()) {
        const d = shiftDelta(s);
        try { model.addShift(s.module, d, -scale); } finally { d.dispose(); }
      }
    }
    release();
  };
  try {
    if (elements <= SNAPSHOT_LIMIT) for (const name of touched) snapshot.set(name, model.readWeight(name));
    for (const s of shifts) {
      const d = shiftDelta(s);
      try { model.addShift(s.module, d, scale); } finally { d.dispose(); }
      applied.push(s);
    }
  } catch (e) {
    undo();
    throw e;
  }
  let settled = false;
  return {
    commit: () => { if (!settled) { settled = true; release(); } },
    undo: () => { if (!settled) { settled = true; undo(); } },
  };
}

/** `beginApply` committed at once: adds `scale` times every shift, all-or-nothing. */
export function applyStoredShifts(model: EditableModel, shifts: readonly StoredShift[], scale = 1, where = 'apply'): void {
  beginApply(model, shifts, scale, where).commit();
}

/**
 * Refuses a journal or pack whose header does not describe `model`: another base model (weights hash)
 * or other module shapes.
 */
export function checkHeaderMatchesModel(header: JournalHeader, model: EditableModel, baseHash: string, file: string): void {
  if (header.baseWeightsHash !== baseHash) {
    throw new Error(`${file}: made for another base model (weights hash ${header.baseWeightsHash.slice(0, 16)}... ` +
      `of ${header.model.modelType}/${header.model.architecture}, this model's is ${baseHash.slice(0, 16)}...); refused`);
  }
  for (const h of header.modules) {
    const m = model.modules.find((x) => x.name === h.name);
    if (!m || m.dIn !== h.dIn || m.dOut !== h.dOut) {
      throw new Error(`${file}: module ${h.name} is ${h.dIn}x${h.dOut} in the header but ` +
        `${m ? `${m.dIn}x${m.dOut}` : 'missing'} in the model; refused`);
    }
  }
}

/**
 * SHA-256 over the current weights of `names` (default: every module), in (dIn, dOut) orientation.
 * Unlike `CausalLM.weightsHash()` (the base weights as loaded) this sees applied edits, so it can
 * prove a model was left untouched.
 */
export function currentWeightsDigest(model: EditableModel, names?: readonly string[]): string {
  const h = createHash('sha256');
  for (const name of names ?? model.modules.map((m) => m.name)) {
    const w = model.readWeight(name);
    try {
      const d = w.dataSync() as Float32Array;
      h.update(name);
      h.update(Buffer.from(d.buffer, d.byteOffset, d.byteLength));
    } finally {
      w.dispose();
    }
  }
  return h.digest('hex');
}
