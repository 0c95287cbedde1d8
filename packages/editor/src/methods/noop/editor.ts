/**
 * `noop`: proposes no shift for any request. It is the floor a skipping editor tends to: mean(ES, GS, LS) rewards an
 * edit that is not applied with an untouched locality score, so every table shows what applying nothing scores.
 */
import type { EditableModel, TokenizedEditRequest } from '@hiedit/tensor-core';
import type { Editor, EditorTrainResult, ShiftProposal } from '../../editors/types';
import type { ResolvedNoopSettings } from './settings';

/** The editor that applies nothing. */
export class NoopEditor implements Editor {
  readonly kind = 'noop';

  constructor(readonly modules: readonly string[], private readonly s: ResolvedNoopSettings) {}

  propose(_model: EditableModel, _request: TokenizedEditRequest): ShiftProposal {
    return { shifts: new Map(), selected: [], scores: {} };
  }

  async train(): Promise<EditorTrainResult> {
    throw new Error('noop has no training phase (it applies nothing)');
  }

  /** Nothing to save beyond editor.json. */
  save(_dir: string): void {}

  settings(): ResolvedNoopSettings {
    return this.s;
  }

  dispose(): void {}
}
