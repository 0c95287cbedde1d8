/**
 * The journal's names for tensor-core's shift operations (shifts.ts there holds them all), and the check that a
 * journal or pack belongs to a model.
 */
import { EditableModel } from '@hiedit/tensor-core';
import { JournalHeader } from './records';

export {
  applyHostShifts as applyStoredShifts, assertFiniteShift as assertFinite, beginApply, currentWeightsDigest,
  hostShiftToDense as shiftDelta, shiftNorm, toHostShift as storeShift, type PendingApply,
} from '@hiedit/tensor-core';

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
