/**
 * Every operation on weight shifts, in one place beside `ParameterShift`: their dense form, norm, scaling and
 * disposal on the device; their host (journal) form; weight snapshots; and the all-or-nothing apply with undo that
 * the lifelong editor, the benchmark stream and the policy trainer all go through.
 */
import { createHash } from 'crypto';
import * as tf from '@tensorflow/tfjs';
import type { EditableModel, ParameterShift, ShiftSet } from './types';

/** One module's shift on the host (float32), as a journal stores it. Low-rank shifts keep their factors. */
export type HostShift =
  | { readonly module: string; readonly kind: 'lowRank'; readonly dIn: number; readonly dOut: number;
      readonly rank: number; readonly left: Float32Array; readonly right: Float32Array }
  | { readonly module: string; readonly kind: 'dense'; readonly dIn: number; readonly dOut: number;
      readonly delta: Float32Array };

/** Disposes the tensors of one shift. */
export function disposeShift(s: ParameterShift): void {
  if (s.kind === 'dense') s.delta.dispose();
  else {
    s.left.dispose();
    s.right.dispose();
  }
}

/** Disposes every shift of a set. */
export function disposeShifts(shifts: Iterable<ParameterShift> | ShiftSet): void {
  for (const s of shifts instanceof Map ? shifts.values() : shifts) disposeShift(s);
}

/** Dense (dIn, dOut) tensor of a shift (a new tensor the caller owns). */
export function shiftToDense(shift: ParameterShift): tf.Tensor2D {
  return shift.kind === 'dense' ? shift.delta.clone() : tf.matMul(shift.left, shift.right);
}

/** Frobenius norm of a shift without materializing a low-rank product: ||LR||^2 = tr((L^T L)(R R^T)). */
export function shiftNorm(shift: ParameterShift): number {
  return tf.tidy(() => {
    if (shift.kind === 'dense') return tf.norm(shift.delta).dataSync()[0];
    const lt = tf.matMul(shift.left, shift.left, true, false);
    const rr = tf.matMul(shift.right, shift.right, false, true);
    return Math.sqrt(Math.max(0, tf.sum(tf.mul(lt, rr)).dataSync()[0]));
  });
}

/** Multiplies every shift of `shifts` by `scale` in place (the left factor of a low-rank one), disposing the originals. */
export function scaleShifts(shifts: Map<string, ParameterShift>, scale: number): void {
  if (scale === 1) return;
  for (const [n, s] of shifts) {
    if (s.kind === 'dense') {
      shifts.set(n, { kind: 'dense', delta: tf.tidy(() => tf.mul(s.delta, scale) as tf.Tensor2D) });
      s.delta.dispose();
    } else {
      shifts.set(n, { kind: 'lowRank', left: tf.tidy(() => tf.mul(s.left, scale) as tf.Tensor2D), right: s.right });
      s.left.dispose();
    }
  }
}

/**
 * Adds `scale` times the named device shifts to the model's weights (W += scale * dW, outside autodiff), in the order
 * given; the policy trainer's trajectory applies its edits this way. Does not dispose the shifts.
 */
export function addShifts(model: Pick<EditableModel, 'addShift'>, shifts: ReadonlyMap<string, ParameterShift>,
  names: readonly string[], scale = 1): void {
  for (const name of names) {
    const shift = shifts.get(name);
    if (!shift) throw new Error(`addShifts: module ${name} has no shift`);
    const d = shiftToDense(shift);
    try {
      model.addShift(name, d, scale);
    } finally {
      d.dispose();
    }
  }
}

/** Copies a device shift to host memory, keeping low-rank factors factored. */
export function toHostShift(module: string, shift: ParameterShift): HostShift {
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

/** The dense (dIn, dOut) delta of a host shift, as a new tensor the caller disposes. */
export function hostShiftToDense(s: HostShift): tf.Tensor2D {
  if (s.kind === 'dense') return tf.tensor2d(s.delta, [s.dIn, s.dOut], 'float32');
  return tf.tidy(() => tf.matMul(tf.tensor2d(s.left, [s.dIn, s.rank]), tf.tensor2d(s.right, [s.rank, s.dOut])));
}

/** Checks that every value of a host shift is finite (a NaN written into weights is unrecoverable). */
export function assertFiniteShift(s: HostShift, where: string): void {
  const arrays = s.kind === 'dense' ? [s.delta] : [s.left, s.right];
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) {
      if (!Number.isFinite(a[i])) throw new Error(`${where}: shift of ${s.module} holds a non-finite value at index ${i}`);
    }
  }
}

/** The weight access a snapshot needs. */
type WeightAccess = Pick<EditableModel, 'readWeight' | 'writeWeight'>;

/**
 * Copies of some modules' weights, taken before anything shifts them, to put back later. Modules are added
 * lazily (`add` ignores those already held), so a snapshot can grow with the modules a run turns out to touch.
 */
export class WeightSnapshot {
  private readonly saved = new Map<string, tf.Tensor2D>();

  constructor(private readonly model: WeightAccess, names: readonly string[] = []) {
    this.add(names);
  }

  /** Copies the current weights of the modules not yet held. */
  add(names: readonly string[]): void {
    for (const n of names) if (!this.saved.has(n)) this.saved.set(n, this.model.readWeight(n));
  }

  /** Whether `name` is held. */
  has(name: string): boolean {
    return this.saved.has(name);
  }

  /** Module names held, in the order they were added. */
  names(): string[] {
    return [...this.saved.keys()];
  }

  /** Writes every held weight back (the snapshot keeps its copies: it can restore again). */
  restore(): void {
    for (const [n, w] of this.saved) this.model.writeWeight(n, w);
  }

  /** Releases the copies. */
  dispose(): void {
    for (const w of this.saved.values()) w.dispose();
    this.saved.clear();
  }
}

/** One module's weight copied to the host (a checkpoint's form of a weight snapshot). */
export interface HostWeight {
  readonly name: string;
  readonly shape: number[];
  readonly data: Float32Array;
}

/** Copies the current weights of `names` to the host. */
export function readHostWeights(model: Pick<EditableModel, 'readWeight'>, names: readonly string[]): HostWeight[] {
  return names.map((name) => {
    const w = model.readWeight(name);
    try {
      return { name, shape: w.shape.slice(), data: Float32Array.from(w.dataSync() as Float32Array) };
    } finally {
      w.dispose();
    }
  });
}

/** Writes host copies back into the model. */
export function writeHostWeights(model: Pick<EditableModel, 'writeWeight'>, weights: readonly HostWeight[]): void {
  for (const s of weights) {
    const t = tf.tensor2d(s.data, s.shape as [number, number]);
    try {
      model.writeWeight(s.name, t);
    } finally {
      t.dispose();
    }
  }
}

/** Above this many weight elements, undo of a failed apply subtracts instead of keeping a snapshot. */
const SNAPSHOT_LIMIT = 1 << 26;

/** A pending application: `commit` keeps it, `undo` restores the touched weights. Each settles once. */
export interface PendingApply {
  commit(): void;
  undo(): void;
}

/**
 * Adds `scale` times every shift to the model and returns a handle that can still undo it. Validates names, shapes
 * and finiteness before touching anything; if a step fails, restores the touched weights and rethrows, so the model is
 * never left half-edited. Undo is exact (from a snapshot) when the touched weights hold at most 2^26 elements, else it
 * subtracts the shifts again.
 */
export function beginApply(model: EditableModel, shifts: readonly HostShift[], scale = 1, where = 'apply'): PendingApply {
  for (const s of shifts) {
    const m = model.module(s.module);
    if (m.dIn !== s.dIn || m.dOut !== s.dOut) {
      throw new Error(`${where}: shift of ${s.module} is ${s.dIn}x${s.dOut}, the model's module is ${m.dIn}x${m.dOut}`);
    }
    assertFiniteShift(s, where);
  }
  const touched = [...new Set(shifts.map((s) => s.module))];
  const elements = touched.reduce((n, name) => { const m = model.module(name); return n + m.dIn * m.dOut; }, 0);
  const snapshot = new WeightSnapshot(model);
  const applied: HostShift[] = [];
  const undo = (): void => {
    if (snapshot.names().length > 0) snapshot.restore();
    else {
      for (const s of [...applied].reverse()) {
        const d = hostShiftToDense(s);
        try { model.addShift(s.module, d, -scale); } finally { d.dispose(); }
      }
    }
    snapshot.dispose();
  };
  try {
    if (elements <= SNAPSHOT_LIMIT) snapshot.add(touched);
    for (const s of shifts) {
      const d = hostShiftToDense(s);
      try { model.addShift(s.module, d, scale); } finally { d.dispose(); }
      applied.push(s);
    }
  } catch (e) {
    undo();
    throw e;
  }
  let settled = false;
  return {
    commit: () => { if (!settled) { settled = true; snapshot.dispose(); } },
    undo: () => { if (!settled) { settled = true; undo(); } },
  };
}

/** `beginApply` committed at once: adds `scale` times every shift, all-or-nothing. */
export function applyHostShifts(model: EditableModel, shifts: readonly HostShift[], scale = 1, where = 'apply'): void {
  beginApply(model, shifts, scale, where).commit();
}

/**
 * SHA-256 over the current weights of `names` (default: every module), in (dIn, dOut) orientation. Unlike a loader's
 * base weights hash this sees applied edits, so two edited models can be compared bit for bit.
 */
export function currentWeightsDigest(model: Pick<EditableModel, 'modules' | 'readWeight'>, names?: readonly string[]): string {
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
