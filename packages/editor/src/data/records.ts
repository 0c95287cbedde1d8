/**
 * A minimal reader of edit-request files for the CLI. The full dataset loaders (splits, facts,
 * skip-invalid reports) live in @hiedit/benchmarks, which depends on this package, so the editor
 * cannot import them; this reader only maps records to EditRequestInput and refuses bad ones clearly.
 *
 * Formats: `counterfact` (EasyEdit records, or ROME records with `requested_rewrite`), `zsre` (MEND
 * zsRE), `world` (a built-in world directory or its edits.json, CounterFact format) and `requests`
 * (dataset-neutral {id?, prompt, target, paraphrases?, locality?: [{prompt, answer}]}). Files are a
 * JSON array or JSON Lines.
 */
import * as fs from 'fs';
import * as path from 'path';
import { EditRequestInput, validateRequest } from '../request';

/** Formats `readEditRequests` understands. */
export type RequestFormat = 'counterfact' | 'zsre' | 'world' | 'requests';

/** Every accepted format name, for CLI validation. */
export const REQUEST_FORMATS: readonly RequestFormat[] = ['counterfact', 'zsre', 'world', 'requests'];

type Rec = Record<string, unknown>;

function parseRecords(file: string): Rec[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: cannot read (${(e as Error).message})`);
  }
  const trimmed = text.trimStart();
  let items: unknown[];
  if (trimmed.startsWith('[')) {
    try {
      items = JSON.parse(text) as unknown[];
    } catch (e) {
      throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
    }
  } else {
    items = [];
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      try {
        items.push(JSON.parse(line));
      } catch (e) {
        throw new Error(`${file}: line ${i + 1} is not valid JSON (${(e as Error).message})`);
      }
    });
  }
  items.forEach((r, i) => {
    if (r === null || typeof r !== 'object' || Array.isArray(r)) throw new Error(`${file}: record ${i} is not an object`);
  });
  return items as Rec[];
}

function field(r: Rec, key: string, where: string): string {
  const v = r[key];
  if (typeof v !== 'string' || v.trim() === '') throw new Error(`${where}: field "${key}" must be a non-empty string`);
  return v;
}

function optionalStrings(v: unknown): string[] {
  if (typeof v === 'string') return v.trim() ? [v] : [];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string' && x.trim() !== '');
  return [];
}

function fromCounterfact(r: Rec, where: string): EditRequestInput {
  if (r.requested_rewrite && typeof r.requested_rewrite === 'object') {
    const rw = r.requested_rewrite as Rec;
    const template = field(rw, 'prompt', `${where} requested_rewrite`);
    const subject = field(rw, 'subject', `${where} requested_rewrite`);
    const target = field((rw.target_new ?? {}) as Rec, 'str', `${where} requested_rewrite.target_new`);
    const trueAnswer = typeof (rw.target_true as Rec | undefined)?.str === 'string' ? String((rw.target_true as Rec).str) : '';
    refuseNoOp(target, trueAnswer || undefined, `${where} requested_rewrite`, 'target_new.str', 'target_true.str');
    return {
      ...(r.case_id !== undefined ? { id: String(r.case_id) } : {}),
      prompt: template.includes('{}') ? template.replace('{}', subject) : template, target,
      paraphrases: optionalStrings(r.paraphrase_prompts),
      // Neighbourhood prompts keep their TRUE answer after the edit.
      locality: trueAnswer ? optionalStrings(r.neighborhood_prompts).map((p) => ({ prompt: p, answer: trueAnswer })) : [],
    };
  }
  const locPrompt = typeof r.locality_prompt === 'string' ? r.locality_prompt : '';
  const locAnswer = typeof r.locality_ground_truth === 'string' ? r.locality_ground_truth : '';
  const target = field(r, 'target_new', where);
  refuseNoOp(target, r.ground_truth, where, 'target_new', 'ground_truth');
  return {
    ...(r.case_id !== undefined ? { id: String(r.case_id) } : {}),
    prompt: field(r, 'prompt', where), target,
    paraphrases: optionalStrings(r.rephrase_prompt),
    locality: locPrompt.trim() && locAnswer.trim() ? [{ prompt: locPrompt, answer: locAnswer }] : [],
  };
}

/** An edit whose new answer is the old one changes nothing; such records are refused as the benchmark loaders do. */
function refuseNoOp(target: string, old: unknown, where: string, field: string, oldField: string): void {
  if (typeof old === 'string' && old === target) throw new Error(`${where}: field "${field}" must differ from "${oldField}" (both are ${JSON.stringify(target)}): the record edits nothing`);
}

function fromZsre(r: Rec, where: string, index: number): EditRequestInput {
  const loc = typeof r.loc === 'string' ? r.loc : '';
  const locAns = typeof r.loc_ans === 'string' ? r.loc_ans : '';
  const target = field(r, 'alt', where);
  refuseNoOp(target, Array.isArray(r.answers) ? r.answers[0] : undefined, where, 'alt', 'answers[0]');
  return {
    id: String(index), prompt: field(r, 'src', where), target,
    paraphrases: optionalStrings(r.rephrase),
    locality: loc.trim() && locAns.trim() ? [{ prompt: loc, answer: locAns }] : [],
  };
}

function fromNeutral(r: Rec, where: string, index: number): EditRequestInput {
  const locality = Array.isArray(r.locality) ? (r.locality as Rec[]).map((l, j) => ({
    prompt: field(l ?? {}, 'prompt', `${where} locality[${j}]`), answer: field(l ?? {}, 'answer', `${where} locality[${j}]`),
  })) : [];
  return {
    id: r.id !== undefined ? String(r.id) : String(index), prompt: field(r, 'prompt', where), target: field(r, 'target', where),
    paraphrases: optionalStrings(r.paraphrases), locality,
  };
}

/** Options of `readEditRequests`. */
export interface ReadRequestsOptions {
  /** Skip records that fail validation instead of refusing the file; each one is reported to `onSkip`. */
  readonly skipInvalid?: boolean;
  readonly onSkip?: (index: number, message: string) => void;
}

/**
 * Reads every request of `file` in `format`; throws naming the file, record and field on bad input
 * (or skips and reports such records with `skipInvalid`: nothing is dropped silently).
 */
export function readEditRequests(file: string, format: RequestFormat, opts: ReadRequestsOptions = {}): EditRequestInput[] {
  if (!REQUEST_FORMATS.includes(format)) {
    throw new Error(`unknown request format ${JSON.stringify(format)} (expected ${REQUEST_FORMATS.join(', ')})`);
  }
  let src = file;
  if (format === 'world' && fs.existsSync(file) && fs.statSync(file).isDirectory()) src = path.join(file, 'edits.json');
  const records = parseRecords(src);
  if (records.length === 0) throw new Error(`${src}: holds no records`);
  const out: EditRequestInput[] = [];
  records.forEach((r, i) => {
    const where = `${src}: record ${i}`;
    try {
      const req = format === 'zsre' ? fromZsre(r, where, i) : format === 'requests' ? fromNeutral(r, where, i) : fromCounterfact(r, where);
      out.push(validateRequest(req, where));
    } catch (e) {
      if (!opts.skipInvalid) throw e;
      opts.onSkip?.(i, (e as Error).message);
    }
  });
  if (out.length === 0) throw new Error(`${src}: no valid record (all ${records.length} were skipped)`);
  return out;
}
