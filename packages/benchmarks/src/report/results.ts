/**
 * results.json: the benchmark's output contract (issue 5). Every key is required; fractions are in 0..1;
 * a fraction is null only when the run had no data for it (e.g. a dataset without paraphrases).
 */

/** Metric keys of one editor, in table order. */
export const EDITOR_METRIC_KEYS = [
  'ES',
  'GS',
  'LS',
  'LS_gold',
  'Pre_ES',
  'Pre_GS',
  'Pre_LS',
  'WILD_ES',
  'WILD_GS',
  'retention',
  'applied_share',
  'layers_per_edit',
  'modules_per_applied_edit',
  'ms_per_edit',
  'train_seconds',
] as const;

/**
 * Keys added after results.json files were first written (by the ablations change): written by every run, but a file
 * without them is still valid (read as null).
 */
export const LATER_METRIC_KEYS = ['applied_share', 'modules_per_applied_edit'] as const;

/** Keys whose values are fractions in 0..1. */
export const FRACTION_KEYS = ['ES', 'GS', 'LS', 'LS_gold', 'Pre_ES', 'Pre_GS', 'Pre_LS', 'WILD_ES', 'WILD_GS', 'retention', 'applied_share'] as const;

export type FractionKey = (typeof FRACTION_KEYS)[number];

/** The measured numbers of one editor. */
export type EditorResult = { [K in Exclude<FractionKey, 'applied_share'>]: number | null } & {
  /**
   * Share of the edits that shifted at least one module; null when the run did not know which did. Optional (like
   * modules_per_applied_edit) only for results.json files written before it was recorded: every run writes it.
   */
  applied_share?: number | null;
  /** Mean number of modules an edit shifted, over all edits (a skipped edit counts 0). */
  layers_per_edit: number;
  /**
   * Mean number of modules an edit shifted, over the applied edits only (those that shifted at least one module);
   * null when no edit was applied or the run did not know which were (e.g. `hiedit-bench eval` of a foreign model).
   */
  modules_per_applied_edit?: number | null;
  /** Mean wall-clock milliseconds of one edit (trace + policy + apply). */
  ms_per_edit: number;
  /** Seconds spent training the editor (0 for editors without training). */
  train_seconds: number;
};

/** One curve point: ES/GS/LS over the first `edits` requests after `edits` edits. */
export interface ResultsCurvePoint {
  edits: number;
  ES: number;
  GS: number | null;
  LS: number | null;
}

/** The whole results.json. */
export interface ResultsFile {
  dataset: string;
  model: string;
  /** Size preset of a built-in world / facts model (`--model-size`); absent for a `--model` checkpoint. */
  model_size?: string;
  /** Architecture of a built-in world / facts model (`--model-arch`); absent for a `--model` checkpoint. */
  model_arch?: string;
  seed: number;
  n_train: number;
  n_eval: number;
  num_pre: number;
  editors: Record<string, EditorResult>;
  curves: Record<string, ResultsCurvePoint[]>;
}

const TOP_KEYS = ['dataset', 'model', 'seed', 'n_train', 'n_eval', 'num_pre', 'editors', 'curves'];
/** Written for built-in models only (and absent from results.json files written before them). */
const OPTIONAL_TOP_KEYS = ['model_size', 'model_arch'];

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function checkKeys(o: Record<string, unknown>, keys: readonly string[], where: string, errs: string[], optional: readonly string[] = []): void {
  for (const k of keys) if (!(k in o)) errs.push(`${where}: missing "${k}"`);
  for (const k of Object.keys(o)) if (!keys.includes(k) && !optional.includes(k)) errs.push(`${where}: unexpected key "${k}"`);
}

function checkFraction(v: unknown, where: string, errs: string[], nullable = true): void {
  if (v === null && nullable) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) errs.push(`${where}: must be a fraction in 0..1, got ${JSON.stringify(v)}`);
}

function checkNonNegative(v: unknown, where: string, errs: string[], integer = false): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v))) {
    errs.push(`${where}: must be a non-negative ${integer ? 'integer' : 'number'}, got ${JSON.stringify(v)}`);
  }
}

/** Every problem with a parsed results.json (empty when it follows the contract exactly). */
export function resultsProblems(raw: unknown, where = 'results.json'): string[] {
  const errs: string[] = [];
  if (!isObj(raw)) return [`${where}: must be a JSON object`];
  checkKeys(raw, TOP_KEYS, where, errs, OPTIONAL_TOP_KEYS);
  for (const k of OPTIONAL_TOP_KEYS) if (k in raw && (typeof raw[k] !== 'string' || raw[k] === '')) errs.push(`${where}: "${k}" must be a non-empty string`);
  if (typeof raw.dataset !== 'string' || raw.dataset === '') errs.push(`${where}: "dataset" must be a non-empty string`);
  if (typeof raw.model !== 'string' || raw.model === '') errs.push(`${where}: "model" must be a non-empty string`);
  if (typeof raw.seed !== 'number' || !Number.isInteger(raw.seed)) errs.push(`${where}: "seed" must be an integer`);
  for (const k of ['n_train', 'n_eval', 'num_pre']) checkNonNegative(raw[k], `${where}: "${k}"`, errs, true);
  if (typeof raw.num_pre === 'number' && typeof raw.n_eval === 'number' && raw.num_pre > raw.n_eval) {
    errs.push(`${where}: "num_pre" (${raw.num_pre}) exceeds "n_eval" (${raw.n_eval})`);
  }
  if (!isObj(raw.editors)) errs.push(`${where}: "editors" must be an object`);
  else {
    for (const [name, r] of Object.entries(raw.editors)) {
      const w = `${where}: editors.${name}`;
      if (!isObj(r)) {
        errs.push(`${w}: must be an object`);
        continue;
      }
      checkKeys(r, EDITOR_METRIC_KEYS.filter((k) => k in r || !(LATER_METRIC_KEYS as readonly string[]).includes(k)), w, errs);
      for (const k of FRACTION_KEYS) if (k in r) checkFraction(r[k], `${w}.${k}`, errs, k !== 'ES');
      for (const k of ['layers_per_edit', 'ms_per_edit', 'train_seconds']) if (k in r) checkNonNegative(r[k], `${w}.${k}`, errs);
      if (r.modules_per_applied_edit !== undefined && r.modules_per_applied_edit !== null) checkNonNegative(r.modules_per_applied_edit, `${w}.modules_per_applied_edit`, errs);
    }
  }
  if (!isObj(raw.curves)) errs.push(`${where}: "curves" must be an object`);
  else {
    for (const [name, c] of Object.entries(raw.curves)) {
      const w = `${where}: curves.${name}`;
      if (isObj(raw.editors) && !(name in raw.editors)) errs.push(`${w}: no such editor in "editors"`);
      if (!Array.isArray(c)) {
        errs.push(`${w}: must be an array`);
        continue;
      }
      let prev = 0;
      c.forEach((p, i) => {
        const pw = `${w}[${i}]`;
        if (!isObj(p)) {
          errs.push(`${pw}: must be an object`);
          return;
        }
        checkKeys(p, ['edits', 'ES', 'GS', 'LS'], pw, errs);
        checkNonNegative(p.edits, `${pw}.edits`, errs, true);
        if (typeof p.edits === 'number') {
          if (p.edits <= prev) errs.push(`${pw}.edits: must increase along the curve`);
          prev = p.edits;
        }
        checkFraction(p.ES, `${pw}.ES`, errs, false);
        checkFraction(p.GS, `${pw}.GS`, errs);
        checkFraction(p.LS, `${pw}.LS`, errs);
      });
    }
  }
  return errs;
}

/** Throws one Error listing every problem when `raw` does not follow the results.json contract. */
export function validateResults(raw: unknown, where = 'results.json'): ResultsFile {
  const errs = resultsProblems(raw, where);
  if (errs.length > 0) throw new Error(`invalid ${where}:\n  ${errs.join('\n  ')}`);
  return raw as ResultsFile;
}
