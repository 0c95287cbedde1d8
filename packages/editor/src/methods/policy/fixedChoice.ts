/**
 * fixed-k's choice: the k modules whose shifts, each on its own, do best on the training split. Every training request
 * is judged from the model's current (base) weights: the trained low level's shift of each module alone, at its
 * calibrated strength when the editor calibrates, scored by shiftMerit on the request's own prompts (training data, so
 * looking at its paraphrases and locality prompts is fair).
 */
import { disposeShifts, EditableModel, TokenizedEditRequest, TracePositions } from '@hiedit/tensor-core';
import type { CalibrationSettings, HiEditPolicy } from '@hiedit/rl-hierarchy';
import { meritScale, shiftMerit } from './merit';

/** Mean merit per module over `stream` (policy order). */
export function moduleMerits(model: EditableModel, policy: HiEditPolicy, stream: readonly TokenizedEditRequest[],
  calibration: CalibrationSettings | null, positions: TracePositions): number[] {
  const names = policy.moduleNames();
  const sums = new Array<number>(names.length).fill(0);
  for (const request of stream) {
    const trace = model.trace(request.edit, names, positions);
    let shifts;
    try {
      // The normalizers stay as training left them: judging the modules must not move them.
      shifts = policy.computeEdit(trace.features).shifts;
    } finally {
      for (const f of trace.features.values()) {
        f.keys.dispose();
        f.valueGrads.dispose();
      }
    }
    try {
      names.forEach((n, i) => {
        const one = new Map([[n, shifts.get(n)!]]);
        sums[i] += shiftMerit(model, request, one, meritScale(model, request, one, calibration));
      });
    } finally {
      disposeShifts(shifts);
    }
  }
  return sums.map((s) => (stream.length ? s / stream.length : 0));
}

/** The k modules of best mean merit on `stream`, best first (ties: policy order). */
export function chooseFixedModules(model: EditableModel, policy: HiEditPolicy, stream: readonly TokenizedEditRequest[], k: number,
  calibration: CalibrationSettings | null, positions: TracePositions): string[] {
  const names = policy.moduleNames();
  const merits = moduleMerits(model, policy, stream, calibration, positions);
  return [...names.keys()].sort((a, b) => merits[b] - merits[a] || a - b).slice(0, Math.min(k, names.length)).map((i) => names[i]);
}
