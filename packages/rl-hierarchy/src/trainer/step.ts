/**
 * One training step: the policy edits one request, its gradients over the back-tracking window go to the update
 * schedule, and (with accumulateEdits) the edit stays in the model for the next request.
 */
import { tf } from '@hiedit/tensor-core';
import type { TokenizedEditRequest } from '@hiedit/tensor-core';
import { localityReference, windowLoss, windowWeights } from '../loss';
import type { WindowItem } from '../loss';
import { disposeShifts, shiftToDense } from '@hiedit/tensor-core';
import { applySelectedShifts } from '../policy';
import type { PolicyEdit } from '../policy';
import type { TrainingContext } from './context';
import { stepGate } from './gate-targets';
import { hieditGradients } from './gradients-hiedit';
import { referenceGradients } from './gradients-reference';
import { calibratedScale } from './strength';
import type { UpdateSchedule } from './update-schedule';

/** What a step reports (the step's progress event is built from it). */
export interface StepOutcome {
  loss: number;
  gen: number;
  loc: number;
  reg: number;
  /** L_full, with every module shifted (computeBaseline with a gate), else undefined. */
  full: number | undefined;
  /** Modules the gate selected. */
  selected: string[];
  /** Global norm of the step's gradients before clipping. */
  gradNorm: number;
  /** Whether Adam stepped. */
  updated: boolean;
}

/**
 * Train on `request`, the newest of the back-tracking window `requests` (oldest first); `stepIndex` is the run's global
 * step count before this step (it seeds what the step samples).
 */
export function runStep(ctx: TrainingContext, updates: UpdateSchedule, request: TokenizedEditRequest, requests: readonly TokenizedEditRequest[], stepIndex: number): StepOutcome {
  const { model, policy, options: o } = ctx;
  const trace = model.trace(request.edit, ctx.names, o.positions);
  const features = trace.features;
  let edit: PolicyEdit | null = null;
  let pBefore: (tf.Tensor2D | null)[] = [];
  try {
    pBefore = localityReference(model, requests);
    policy.updateNormalizers(features, { low: true, high: o.updateHighNormalizers });
    const weights = windowWeights(requests.length, o.gamma);
    const window: WindowItem[] = requests.map((r, i) => ({ request: r, weight: weights[i], pBefore: pBefore[i] }));
    edit = policy.computeEdit(features);
    const gate = stepGate(ctx, request, edit, window, stepIndex);
    const step = o.mode === 'hiedit' ? hieditGradients(ctx, features, window, gate.scale, gate.target) : referenceGradients(ctx, features, window, edit);
    const updated = updates.add(step.grads);
    const full = o.computeBaseline && policy.high ? fullLoss(ctx, window, edit, calibratedScale(ctx, request, edit, true)) : undefined;
    if (o.accumulateEdits) applySelectedShifts(model, edit, gate.scale);
    const selected = ctx.names.filter((_, i) => edit!.mask.selected[i]);
    return { loss: step.loss, gen: step.gen, loc: step.loc, reg: step.reg, full, selected, gradNorm: updates.lastGradNorm, updated };
  } finally {
    if (edit) disposeShifts(edit.shifts);
    for (const p of pBefore) p?.dispose();
    for (const f of features.values()) {
      f.keys.dispose();
      f.valueGrads.dispose();
    }
  }
}

/** L_full: the same generalization + locality losses with every module shifted (no gradient). */
function fullLoss(ctx: TrainingContext, window: readonly WindowItem[], edit: PolicyEdit, scale = 1): number {
  return tf.tidy(() => {
    const shifts = new Map(ctx.names.map((n) => [n, tf.mul(shiftToDense(edit.shifts.get(n)!), scale) as tf.Tensor2D] as const));
    return windowLoss(ctx.model, window, shifts, ctx.objective).modelLoss.dataSync()[0];
  });
}
