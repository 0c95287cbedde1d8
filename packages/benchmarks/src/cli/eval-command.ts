/**
 * `hiedit-bench eval`: scores any model on a request file with the benchmark's metrics and results.json contract, so a
 * model edited elsewhere (`hiedit edit` + `hiedit export`, another tool) is judged exactly as a benchmark run judges
 * its final model. The unedited base model gives the predictions LS and retention compare against.
 */
import * as path from 'path';
import { CliUsageError, defineCommand, initBackend, type CliCommand, type TokenizedTuple } from '@hiedit/tensor-core';
import { loadDataset, type EditRequest } from '@hiedit/editor';
import { loadModel, tokenizeTuple, type CausalLM } from '@hiedit/llm-loader';
import { loadFacts } from '../datasets';
import { recordLocalityBaseline, recordRetentionBaseline, type MetricStyle } from '../eval';
import { progressFactory } from '../progress';
import { formatTable, validateResults, type ResultsFile } from '../report';
import { scoreFinalModel, toEvalCase } from '../runner';
import { writeJsonAtomic } from '../runner/state';

const EVAL_FLAGS = {
  model: 'string',
  base: 'string',
  data: 'string',
  facts: 'string',
  style: 'string',
  'num-pre': 'int',
  wild: 'boolean',
  out: 'string',
  json: 'boolean',
  backend: 'string',
} as const;

const EVAL_FLAG_HELP = [
  '--model DIR               the model to score (e.g. one `hiedit export` wrote)',
  '--base DIR                the unedited model it was edited from: LS and retention compare with its predictions',
  '                          (without it LS, Pre_LS and retention are null: there is nothing to compare with)',
  '--data FILE               the edit requests, in edit order: a run\'s requests/evaluation.jsonl, or a',
  '                          CounterFact / zsRE / requests file (format detected)',
  '--facts FILE              held-out facts for retention (a run\'s requests/held-out-facts.jsonl)',
  '--style zsre|counterfact  ES/GS scoring (default zsre for zsRE files, counterfact otherwise; use the run\'s)',
  '--num-pre N               Pre_* over the first N requests (default min(20, requests))',
  '--no-wild                 skip the generation metrics WILD_ES / WILD_GS',
  '--out FILE                also write the results (results.json contract) to FILE',
  '--json                    print the results as JSON instead of the table',
  '--backend NAME            tfjs backend (tensorflow-gpu, tensorflow, wasm, cpu)',
];

/** The `eval` command. */
export function evalCommand(): CliCommand {
  return defineCommand({
    program: 'hiedit-bench',
    name: 'eval',
    summary: 'score any model on a request file with the benchmark\'s metrics',
    synopsis: 'eval --model DIR [--base DIR] --data FILE [flags]',
    description: 'Scores --model on the requests of --data as a benchmark run scores its final model (ES, GS, LS, Pre_*,\n' +
      'WILD_*, retention) and prints the table, or the results.json-shaped JSON with --json.',
    flagHelp: EVAL_FLAG_HELP,
    flags: EVAL_FLAGS,
    async action(flags, io) {
      if (!flags.model) throw new CliUsageError('--model DIR is required');
      if (!flags.data) throw new CliUsageError('--data FILE is required');
      if (flags.style !== undefined && flags.style !== 'zsre' && flags.style !== 'counterfact') {
        throw new CliUsageError(`--style must be zsre or counterfact, got ${JSON.stringify(flags.style)}`);
      }
      if (flags.facts && !flags.base) throw new CliUsageError('--facts needs --base: retention compares with the base model\'s predictions');
      await initBackend(flags.backend ? { backend: flags.backend as 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu' } : {});
      const loaded = loadDataset(flags.data);
      const requests = loaded.requests;
      const numPre = flags['num-pre'] ?? Math.min(20, requests.length);
      if (numPre > requests.length) throw new CliUsageError(`--num-pre (${numPre}) cannot exceed the ${requests.length} requests of ${flags.data}`);
      const style: MetricStyle = (flags.style as MetricStyle | undefined) ?? (loaded.format === 'zsre' ? 'zsre' : 'counterfact');
      const model = await loadModel(flags.model);
      const base = flags.base ? await loadModel(flags.base) : undefined;
      try {
        const results = scoreModel({ model, base, requests, facts: flags.facts ? loadFacts(flags.facts) : [], style,
          wild: flags.wild ?? true, numPre, label: path.basename(path.resolve(flags.model)), dataLabel: path.basename(flags.data) });
        if (flags.out) writeJsonAtomic(flags.out, results);
        io.out(flags.json ? `${JSON.stringify(results)}\n` : `\n${formatTable(results)}\n`);
        if (!base) io.err('no --base: LS, Pre_LS and retention are null (they compare with the unedited model)\n');
        return 0;
      } finally {
        model.dispose();
        base?.dispose();
      }
    },
  });
}

/** What {@link scoreModel} scores. */
export interface ScoreModelInputs {
  model: CausalLM;
  base?: CausalLM;
  requests: readonly EditRequest[];
  facts: readonly { prompt: string; answer: string }[];
  style: MetricStyle;
  wild: boolean;
  numPre: number;
  /** Name of the scored model in the results. */
  label: string;
  /** results.json's "dataset". */
  dataLabel: string;
}

/** Scores `model` on `requests` (in edit order) as a run scores its final model; returns a results.json object. */
export function scoreModel(inp: ScoreModelInputs): ResultsFile {
  const tok = inp.model.tokenizer;
  if (!tok) throw new Error(`${inp.model.dir ?? 'model'}: no tokenizer.json; scoring needs one`);
  const tokenize = (p: string, a: string): TokenizedTuple => tokenizeTuple(tok, p, a);
  const cases = inp.requests.map((r) => toEvalCase(r, tokenize));
  const facts = inp.facts.map((f) => tokenize(f.prompt, f.answer));
  const measure = { style: inp.style, wild: inp.wild, decode: (ids: number[]) => tok.decode(ids, { skipSpecialTokens: true }),
    vocabSize: inp.model.config.vocabSize };
  const reference = inp.base ?? inp.model;
  const { metrics } = scoreFinalModel({
    model: inp.model, cases, locality: recordLocalityBaseline(reference, cases, measure), facts,
    retentionBase: recordRetentionBaseline(reference, facts, measure), measure, numPre: inp.numPre,
    progress: progressFactory({ quiet: true }), label: inp.label,
  });
  // Without the base model there is nothing to compare locality with; without facts, no retention.
  const scored = {
    ...metrics,
    ...(inp.base ? {} : { LS: null, Pre_LS: null }),
    ...(inp.base && facts.length > 0 ? {} : { retention: null }),
  };
  return validateResults({
    dataset: inp.dataLabel, model: inp.label, seed: 0, n_train: 0, n_eval: cases.length, num_pre: inp.numPre,
    editors: { [inp.label]: scored },
    curves: { [inp.label]: [{ edits: cases.length, ES: scored.ES, GS: scored.GS, LS: scored.LS }] },
  }, 'eval results');
}
