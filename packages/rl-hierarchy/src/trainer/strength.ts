/**
 * Edit-strength calibration during training (calibrate.ts): the strength a step's shifts are applied and trained at.
 */
import type { TokenizedEditRequest } from '@hiedit/tensor-core';
import { calibrateScale } from '../calibrate';
import type { PolicyEdit } from '../policy';
import type { TrainingContext } from './context';

/**
 * The calibrated strength of `edit` on `request`'s edit tuple (1 without calibration): of its selected shifts, or,
 * with `all`, of every module's (the L_full baseline).
 */
export function calibratedScale(ctx: TrainingContext, request: TokenizedEditRequest, edit: PolicyEdit, all: boolean): number {
  const c = ctx.options.calibration;
  if (!c) return 1;
  const shifts = new Map(edit.mask.modules.filter((_, i) => all || edit.mask.selected[i]).map((n) => [n, edit.shifts.get(n)!] as const));
  return calibrateScale(ctx.model, request.edit, shifts, c).scale;
}

/** The calibrated strength of every module's shift on its own (1 without calibration, 0 where it does not hold). */
export function moduleScales(ctx: TrainingContext, request: TokenizedEditRequest, edit: PolicyEdit): number[] {
  const c = ctx.options.calibration;
  return ctx.names.map((n) => (c ? calibrateScale(ctx.model, request.edit, new Map([[n, edit.shifts.get(n)!]]), c).scale : 1));
}
