/**
 * The journal's names for tensor-core's shift operations (shifts.ts there holds them all), and the check that a
 * journal or pack belongs to a model.
 */
import { EditableModel } from '@hiedit/tensor-core';
import { baseFingerprint } from './fingerprint';
import { JournalHeader } from './records';

export {
  applyHostShifts as applyStoredShifts, assertFiniteShift as assertFinite, beginApply, currentWeightsDigest,
  hostShiftToDense as shiftDelta, shiftNorm, toHostShift as storeShift, type PendingApply,
} from '@hiedit/tensor-core';

/**
 * Refuses a journal or pack whose header does not describe `model`: another base model (weights hash, config hash,
 * tokenizer hash where both sides have one) or other module shapes.
 */
export function checkHeaderMatchesModel(header: JournalHeader, model: EditableModel, baseHash: string, file: string): void {
  if (header.baseWeightsHash !== baseHash) {
    throw new Error(`${file}: made for another base model (weights hash ${header.baseWeightsHash.slice(0, 16)}... ` +
      `of ${header.model.modelType}/${header.model.architecture}, this model's is ${baseHash.slice(0, 16)}...); refused`);
  }
  // Journals written before the config and tokenizer were recorded lack them: checked on the weights only.
  const here = baseFingerprint(model);
  if (header.baseConfigHash !== undefined && here.configHash !== undefined && header.baseConfigHash !== here.configHash) {
    throw new Error(`${file}: made for a base model with the same weights but another config (config hash ` +
      `${header.baseConfigHash.slice(0, 16)}..., this model's is ${here.configHash.slice(0, 16)}...: config.json differs, ` +
      `e.g. activation or norm epsilon); refused`);
  }
  if (header.baseTokenizerHash !== undefined && here.tokenizerHash !== undefined && header.baseTokenizerHash !== here.tokenizerHash) {
    throw new Error(`${file}: made for a base model with another tokenizer (tokenizer files hash ` +
      `${header.baseTokenizerHash.slice(0, 16)}..., this model's is ${here.tokenizerHash.slice(0, 16)}...); refused`);
  }
  for (const h of header.modules) {
    const m = model.modules.find((x) => x.name === h.name);
    if (!m || m.dIn !== h.dIn || m.dOut !== h.dOut) {
      throw new Error(`${file}: module ${h.name} is ${h.dIn}x${h.dOut} in the header but ` +
        `${m ? `${m.dIn}x${m.dOut}` : 'missing'} in the model; refused`);
    }
  }
}
