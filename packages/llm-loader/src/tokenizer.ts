/**
 * Tokenizers from local Hugging Face files (tokenizer.json + tokenizer_config.json) through
 * @huggingface/tokenizers, behind the small {@link Tokenizer} interface the rest of hiedit uses,
 * and the teacher-forcing tuple layout of spec §2.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import type { TokenizedTuple } from '@hiedit/tensor-core';

/** Label value ignored by the masked losses (same as tensor-core's IGNORE_INDEX). */
const IGNORE = -100;

/** A text tokenizer as hiedit uses it. */
export interface Tokenizer {
  /**
   * Token ids of `text`. Special tokens (BOS/EOS/...) are added only when `addSpecialTokens` is true,
   * and then exactly as the tokenizer's post-processor (and tokenizer_config's add_bos_token /
   * add_eos_token, when given) says. Special-token strings written inside `text` are always
   * recognised as their single ids, as Hugging Face does. Text no token covers maps to the unknown
   * token; without one, a word-level model throws, and a BPE model drops it (as Hugging Face does).
   */
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  /** Text of `ids`, exactly (no clean-up of spaces, so encode/decode round-trips). */
  decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): string;
  /** Number of ids (model vocabulary plus added tokens): every id is in [0, vocabSize). */
  readonly vocabSize: number;
  readonly bosTokenId?: number;
  readonly eosTokenId?: number;
  /** Id text no token covers maps to (tokenizer.json's model.unk_token), when the tokenizer has one. */
  readonly unkTokenId?: number;
  /**
   * Absolute paths of the files that define the tokenizer (copy them when saving a model, e.g. with
   * copyTokenizerFiles). The first one is the tokenizer.json itself, whatever its file name.
   */
  readonly files: string[];
}

/** The files a Hugging Face tokenizer directory may carry besides tokenizer.json. */
const COMPANION_FILES = ['tokenizer_config.json', 'special_tokens_map.json'];

/** A tokenizer.json / tokenizer_config.json pair as parsed JSON. */
export interface TokenizerDefinition {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
}

/**
 * Loads a tokenizer from a model directory (which must contain tokenizer.json, and may contain
 * tokenizer_config.json) or from a tokenizer.json file (its sibling tokenizer_config.json is used
 * when present). Local files only: nothing is ever fetched.
 *
 * @throws Error naming the missing or invalid file.
 */
export async function loadTokenizer(pathOrDir: string): Promise<Tokenizer> {
  const resolved = path.resolve(pathOrDir);
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(resolved);
  } catch {
    throw new Error(`loadTokenizer: ${resolved} does not exist`);
  }
  const dir = stat.isDirectory() ? resolved : path.dirname(resolved);
  const jsonFile = stat.isDirectory() ? path.join(resolved, 'tokenizer.json') : resolved;
  if (stat.isDirectory() && !fs.existsSync(jsonFile)) {
    throw new Error(`loadTokenizer: ${jsonFile} not found (a tokenizer directory needs tokenizer.json)`);
  }
  const tokenizerJson = await readJsonObject(jsonFile);
  const configFile = path.join(dir, 'tokenizer_config.json');
  const tokenizerConfig = fs.existsSync(configFile) ? await readJsonObject(configFile) : {};
  const files = [jsonFile];
  for (const name of COMPANION_FILES) {
    const f = path.join(dir, name);
    if (fs.existsSync(f)) files.push(f);
  }
  return tokenizerFromDefinition({ tokenizerJson, tokenizerConfig }, files, jsonFile);
}

/**
 * Builds a tokenizer from already parsed tokenizer.json / tokenizer_config.json objects
 * (e.g. one generated in memory). `source` names the origin in error messages.
 */
export function tokenizerFromDefinition(
  def: TokenizerDefinition,
  files: string[] = [],
  source = 'tokenizer.json',
): Tokenizer {
  return new HfBackedTokenizer(def, files, source);
}

async function readJsonObject(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`loadTokenizer: cannot read ${file}: ${(e as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`loadTokenizer: ${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(value)) throw new Error(`loadTokenizer: ${file} must hold a JSON object`);
  return value;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** tokenizer_config.json writes special tokens either as strings or as AddedToken objects. */
function specialTokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v.content === 'string') return v.content;
  return undefined;
}

/** Checks the parts of tokenizer.json that the library would otherwise trip over obscurely. */
function validateTokenizerJson(json: Record<string, unknown>, source: string): void {
  const model = json.model;
  if (!isObject(model)) throw new Error(`${source}: field "model" is missing or not an object`);
  if (!isObject(model.vocab) && !Array.isArray(model.vocab)) {
    throw new Error(`${source}: field "model.vocab" is missing or not an object/array`);
  }
  if (model.type === 'BPE' && !Array.isArray(model.merges)) {
    throw new Error(`${source}: BPE model needs an array "model.merges"`);
  }
  if (json.added_tokens !== undefined) {
    if (!Array.isArray(json.added_tokens)) throw new Error(`${source}: field "added_tokens" must be an array`);
    json.added_tokens.forEach((t, i) => {
      if (!isObject(t) || typeof t.content !== 'string' || !Number.isInteger(t.id) || (t.id as number) < 0) {
        throw new Error(`${source}: added_tokens[${i}] needs a string "content" and a non-negative integer "id"`);
      }
    });
  }
}

/** A {@link Tokenizer} over @huggingface/tokenizers with hiedit's special-token policy. */
class HfBackedTokenizer implements Tokenizer {
  readonly unkTokenId?: number;
  readonly vocabSize: number;
  readonly bosTokenId?: number;
  readonly eosTokenId?: number;
  readonly files: string[];
  private readonly hf: HfTokenizer;
  private readonly prefixIds: number[];
  private readonly suffixIds: number[];
  private readonly specialIds: Set<number>;
  private readonly source: string;

  constructor(def: TokenizerDefinition, files: string[], source: string) {
    this.source = source;
    this.files = files.slice();
    const json = { ...def.tokenizerJson };
    validateTokenizerJson(json, source);
    // The library insists on these keys being present (null is fine): a minimal file may omit them.
    for (const key of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder']) {
      if (!(key in json)) json[key] = null;
    }
    if (json.added_tokens === undefined) json.added_tokens = [];
    const config: Record<string, unknown> = { ...def.tokenizerConfig };
    const model = json.model as Record<string, unknown>;
    // The library has no WordLevel model; its fallback reads the unknown token from the config.
    if (model.type === 'WordLevel' && config.unk_token === undefined && typeof model.unk_token === 'string') {
      config.unk_token = model.unk_token;
    }
    try {
      this.hf = new HfTokenizer(json, config);
    } catch (e) {
      throw new Error(`${source}: unsupported or invalid tokenizer: ${(e as Error).message}`);
    }
    const vocab = (this.hf as unknown as { model: { vocab: unknown[] } }).model.vocab;
    this.vocabSize = vocab.length;
    this.specialIds = new Set(
      [...this.hf.get_added_tokens_decoder().values()].filter((t) => t.special).map((t) => t.id),
    );

    const unk = typeof model.unk_token === 'string' ? model.unk_token : specialTokenContent(config.unk_token);
    const unkId = unk === undefined ? undefined : this.hf.token_to_id(unk);
    if (unkId !== undefined && unkId !== null) this.unkTokenId = unkId;

    const bosContent = specialTokenContent(config.bos_token);
    const eosContent = specialTokenContent(config.eos_token);
    this.bosTokenId = bosContent === undefined ? undefined : this.requireId(bosContent, 'bos_token');
    this.eosTokenId = eosContent === undefined ? undefined : this.requireId(eosContent, 'eos_token');

    const { prefix, suffix } = this.postProcessorSpecials();
    this.prefixIds = prefix;
    this.suffixIds = suffix;
    // tokenizer_config's add_bos_token / add_eos_token override the post-processor, as the
    // transformers fast tokenizers (Llama, Mistral, GPT-2) rebuild their template from them.
    if (typeof config.add_bos_token === 'boolean') {
      this.prefixIds = this.withFlag(this.prefixIds, config.add_bos_token, this.bosTokenId, 'add_bos_token', true);
    }
    if (typeof config.add_eos_token === 'boolean') {
      this.suffixIds = this.withFlag(this.suffixIds, config.add_eos_token, this.eosTokenId, 'add_eos_token', false);
    }
    if (this.bosTokenId === undefined && this.prefixIds.length > 0 && this.specialIds.has(this.prefixIds[0])) {
      this.bosTokenId = this.prefixIds[0];
    }
  }

  private requireId(content: string, field: string): number {
    const id = this.hf.token_to_id(content);
    if (id === undefined) {
      throw new Error(`${this.source}: tokenizer_config ${field} "${content}" is not in the vocabulary`);
    }
    return id;
  }

  /** Ids the post-processor puts before / after a single sequence when asked for special tokens. */
  private postProcessorSpecials(): { prefix: number[]; suffix: number[] } {
    const pp = this.hf.post_processor as unknown as
      | null
      | ((tokens: string[], pair: string[] | null, add: boolean) => { tokens: string[] });
    if (!pp) return { prefix: [], suffix: [] };
    // A sentinel no vocabulary contains, so it can be found again among the added specials.
    const probe = '\u0000hiedit-probe\u0000';
    let out: string[];
    try {
      out = pp([probe], null, true).tokens;
    } catch (e) {
      throw new Error(`${this.source}: post_processor failed on a probe sequence: ${(e as Error).message}`);
    }
    const at = out.indexOf(probe);
    if (at < 0) throw new Error(`${this.source}: post_processor drops the input sequence`);
    const toIds = (tokens: string[]): number[] =>
      tokens.map((t) => {
        const id = this.hf.token_to_id(t);
        if (id === undefined) throw new Error(`${this.source}: post_processor adds "${t}", which is not in the vocabulary`);
        return id;
      });
    return { prefix: toIds(out.slice(0, at)), suffix: toIds(out.slice(at + 1)) };
  }

  private withFlag(ids: number[], on: boolean, id: number | undefined, field: string, atStart: boolean): number[] {
    if (id === undefined) {
      if (on) throw new Error(`${this.source}: tokenizer_config ${field} is true but the matching special token is not set`);
      return ids;
    }
    const has = atStart ? ids[0] === id : ids[ids.length - 1] === id;
    if (on && !has) return atStart ? [id, ...ids] : [...ids, id];
    if (!on && has) return atStart ? ids.slice(1) : ids.slice(0, -1);
    return ids;
  }

  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    if (typeof text !== 'string') throw new Error(`encode: text must be a string, got ${typeof text}`);
    const enc = this.hf.encode(text, { add_special_tokens: false });
    for (let i = 0; i < enc.ids.length; i++) {
      if (enc.ids[i] === undefined || enc.ids[i] === null) {
        throw new Error(
          `${this.source}: token "${enc.tokens[i]}" of the text is not in the vocabulary and the tokenizer has no unknown token`,
        );
      }
    }
    return opts.addSpecialTokens ? [...this.prefixIds, ...enc.ids, ...this.suffixIds] : enc.ids;
  }

  /** Ids `encode(..., { addSpecialTokens: true })` puts before the text. */
  leadingSpecialIds(): number[] {
    return this.prefixIds.slice();
  }

  decode(ids: number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize || this.hf.id_to_token(id) === undefined) {
        throw new Error(`decode: id ${id} is not in the vocabulary of ${this.source} (size ${this.vocabSize})`);
      }
    }
    const kept = opts.skipSpecialTokens ? ids.filter((id) => !this.specialIds.has(id)) : ids;
    if (kept.length === 0) return '';
    return this.hf.decode(kept, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  }
}

/**
 * Teacher-forcing layout of a (prompt, answer) pair, spec §2:
 * ids = tok(prompt) + tok(" " + answer) without its last token,
 * labels = [-100] * (len(tok(prompt)) - 1) + tok(" " + answer).
 *
 * tok(prompt) carries the leading special tokens (BOS) the tokenizer adds on its own, so the
 * prompt starts as the model saw it in training; trailing ones (EOS) are dropped because the
 * answer follows. The answer never gets special tokens. Position i predicts labels[i].
 *
 * @throws Error when the prompt or the answer encodes to no token.
 */
export function tokenizeTuple(tok: Tokenizer, prompt: string, answer: string): TokenizedTuple {
  const promptIds = promptWithLeadingSpecials(tok, prompt);
  if (promptIds.length === 0) throw new Error(`tokenizeTuple: prompt ${JSON.stringify(prompt)} encodes to no tokens`);
  const answerIds = tok.encode(' ' + answer);
  if (answerIds.length === 0) throw new Error(`tokenizeTuple: answer ${JSON.stringify(answer)} encodes to no tokens`);
  const ids = promptIds.concat(answerIds.slice(0, -1));
  const labels = new Array<number>(promptIds.length - 1).fill(IGNORE).concat(answerIds);
  return { ids, labels };
}

/** tok(prompt) with the specials the tokenizer prepends, found by aligning with the plain encoding. */
function promptWithLeadingSpecials(tok: Tokenizer, prompt: string): number[] {
  const plain = tok.encode(prompt);
  if (plain.length === 0) return [];
  if (tok instanceof HfBackedTokenizer) return tok.leadingSpecialIds().concat(plain);
  // Any other Tokenizer: locate the plain ids inside the special-token encoding.
  const full = tok.encode(prompt, { addSpecialTokens: true });
  for (let start = 0; start + plain.length <= full.length; start++) {
    let same = true;
    for (let j = 0; j < plain.length && same; j++) same = full[start + j] === plain[j];
    if (same) return full.slice(0, start + plain.length);
  }
  throw new Error(`tokenizeTuple: the tokenizer's special-token encoding of ${JSON.stringify(prompt)} does not contain its plain encoding`);
}
