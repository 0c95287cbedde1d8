import { createModel } from '@hiedit/llm-loader';
import { editorKinds, meritScale, modelShapeInfo, shiftMerit } from '@hiedit/editor';
import { disposeShifts, initBackend, type ParameterShift, type TokenizedEditRequest } from '@hiedit/tensor-core';
import { defaultDeps } from './defaults';
import { oracleKFactory, oracleSelection, subsetsOfSize } from './oracle';

beforeAll(async () => { await initBackend(); });

function tinyGpt2() {
  return createModel({ architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', vocab_size: 40, n_positions: 16, n_embd: 16,
    n_layer: 2, n_head: 2, n_inner: null, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5, scale_attn_weights: true,
    tie_word_embeddings: true, bos_token_id: 1, eos_token_id: 2, initializer_range: 0.1 }, 3);
}

const t = (prompt: number[], answer: number[]) => ({ ids: [...prompt, ...answer], labels: [...prompt.map(() => -100), ...answer] });
const REQUEST: TokenizedEditRequest = { id: 'r', edit: t([1, 5, 6], [9]), paraphrases: [t([1, 7, 6], [9])], locality: [t([1, 8], [12])] };
const MODULES = ['h.0.mlp.c_fc', 'h.0.mlp.c_proj', 'h.1.mlp.c_fc', 'h.1.mlp.c_proj'];

describe('oracle-k (benchmark only, an upper bound)', () => {
  test('tries every set of size k', () => {
    expect(subsetsOfSize(4, 2)).toEqual([[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]);
    expect(subsetsOfSize(3, 3)).toEqual([[0, 1, 2]]);
  });

  test('picks the set of best merit on the edit\'s own prompts; it is not in the editor registry, the runner finds it', () => {
    const model = tinyGpt2();
    const f = oracleKFactory;
    const settings = f.resolveSettings(modelShapeInfo(model, MODULES), { policy: { seed: 2, low: { rank: 2 }, high: { hidden: 4 } }, machinery: 'none' });
    expect(settings.selection).toEqual({ rule: 'custom' });
    const ed = f.create(model, MODULES, settings) as unknown as { policy: { computeEdit(f: unknown): { shifts: Map<string, ParameterShift> } } };
    const trace = model.trace(REQUEST.edit, MODULES);
    const shifts = ed.policy.computeEdit(trace.features).shifts;
    for (const x of trace.features.values()) { x.keys.dispose(); x.valueGrads.dispose(); }
    const choice = oracleSelection({ model, request: REQUEST, modules: MODULES, shifts, k: 2, calibration: null });
    const merits = subsetsOfSize(4, 2).map((set) => {
      const m = new Map(set.map((i) => [MODULES[i], shifts.get(MODULES[i])!] as const));
      return shiftMerit(model, REQUEST, m, meritScale(model, REQUEST, m, null));
    });
    const chosen = MODULES.flatMap((_, i) => (choice.selected[i] ? [i] : []));
    expect(chosen).toHaveLength(2);
    expect(merits[subsetsOfSize(4, 2).findIndex((s) => String(s) === String(chosen))]).toBe(Math.max(...merits));
    disposeShifts(shifts);
    (ed as unknown as { dispose(): void }).dispose();
    expect(editorKinds()).not.toContain('oracle-k');
    expect(defaultDeps().editorFactory('oracle-k').kind).toBe('oracle-k');
    expect(() => defaultDeps().editorFactory('nope')).toThrow(/unknown editor "nope".*and the benchmark's own: oracle-k/);
    model.dispose();
  });
});
