/**
 * Writing tokenizer files of our own: a word-level tokenizer for built-in (synthetic) models, and
 * an atomic writer for any tokenizer.json / tokenizer_config.json pair. Files written here follow the
 * Hugging Face tokenizer.json format and load through {@link loadTokenizer} like any other.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic, writeJsonAtomic } from '@hiedit/tensor-core';
import type { TokenizerDefinition } from './tokenizer';

/** Options of {@link buildWordLevelTokenizer}. */
export interface WordLevelSpec {
  /** The words, in id order after the special tokens. Must be distinct, non-empty and without whitespace. */
  words: readonly string[];
  /** Unknown-word token (default "<unk>"). */
  unkToken?: string;
  /** Beginning-of-text token (default "<bos>"); null for none. */
  bosToken?: string | null;
  /** End-of-text token (default "<eos>"); null for none. */
  eosToken?: string | null;
  /** Padding token (default "<pad>"); null for none. */
  padToken?: string | null;
  /** Whether encoding with special tokens prepends the BOS token (default true when there is one). */
  addBos?: boolean;
}

/**
 * A whitespace-split word-level tokenizer: special tokens take the first ids (pad, bos, eos, unk,
 * in that order, skipping those set to null), then the words. Decoding joins words with single spaces.
 */
export function buildWordLevelTokenizer(spec: WordLevelSpec): TokenizerDefinition {
  const unk = spec.unkToken ?? '<unk>';
  const bos = spec.bosToken === undefined ? '<bos>' : spec.bosToken;
  const eos = spec.eosToken === undefined ? '<eos>' : spec.eosToken;
  const pad = spec.padToken === undefined ? '<pad>' : spec.padToken;
  const specials = [pad, bos, eos, unk].filter((t): t is string => typeof t === 'string');
  const vocab: Record<string, number> = {};
  for (const t of specials) {
    if (t in vocab) throw new Error(`buildWordLevelTokenizer: special token "${t}" is given twice`);
    vocab[t] = Object.keys(vocab).length;
  }
  spec.words.forEach((w, i) => {
    if (typeof w !== 'string' || w.length === 0 || /\s/u.test(w)) {
      throw new Error(`buildWordLevelTokenizer: words[${i}] ${JSON.stringify(w)} must be non-empty without whitespace`);
    }
    if (Object.prototype.hasOwnProperty.call(vocab, w)) {
      throw new Error(`buildWordLevelTokenizer: words[${i}] "${w}" is a duplicate or a special token`);
    }
    vocab[w] = Object.keys(vocab).length;
  });
  const addedTokens = specials.map((t) => ({
    id: vocab[t], content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  }));
  const addBos = spec.addBos ?? bos !== null;
  if (addBos && bos === null) throw new Error('buildWordLevelTokenizer: addBos needs a bosToken');
  const postProcessor = addBos
    ? {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [
          { SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
          { Sequence: { id: 'B', type_id: 1 } },
        ],
        special_tokens: { [bos as string]: { id: bos, ids: [vocab[bos as string]], tokens: [bos] } },
      }
    : null;
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: { type: 'WhitespaceSplit' },
    post_processor: postProcessor,
    decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: unk },
  };
  const tokenizerConfig: Record<string, unknown> = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    unk_token: unk,
    clean_up_tokenization_spaces: false,
    model_max_length: 1_000_000,
  };
  if (bos !== null) tokenizerConfig.bos_token = bos;
  if (eos !== null) tokenizerConfig.eos_token = eos;
  if (pad !== null) tokenizerConfig.pad_token = pad;
  return { tokenizerJson, tokenizerConfig };
}

/**
 * Writes tokenizer.json and tokenizer_config.json into `dir` (created if needed), each atomically
 * (temporary file + rename). Returns the two paths.
 */
export function writeTokenizerFiles(dir: string, def: TokenizerDefinition): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const out: string[] = [];
  for (const [name, value] of [
    ['tokenizer.json', def.tokenizerJson],
    ['tokenizer_config.json', def.tokenizerConfig],
  ] as const) {
    const file = path.join(dir, name);
    writeJsonAtomic(file, value);
    out.push(file);
  }
  return out;
}

/**
 * Copies tokenizer files (e.g. {@link Tokenizer.files}) into `dir` under their usual names, each
 * atomically. A tokenizer.json loaded from another file name is stored as tokenizer.json.
 */
export function copyTokenizerFiles(files: readonly string[], dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  files.forEach((src, i) => {
    // files[0] is always the tokenizer.json itself, whatever it was called.
    const name = i === 0 ? 'tokenizer.json' : path.basename(src);
    const dst = path.join(dir, name);
    if (path.resolve(src) === path.resolve(dst)) return;
    writeFileAtomic(dst, fs.readFileSync(src));
  });
}
