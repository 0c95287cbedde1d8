/**
 * A word-level Hugging Face tokenizer written by our own code for the world model and facts models:
 * a WordLevel model over every word of the training corpus, the Whitespace pre-tokenizer, and a
 * TemplateProcessing post-processor that puts `<s>` before each sequence as Llama tokenizers do.
 *
 * @huggingface/tokenizers 0.2.0 has no WordLevel class; its fallback ("Legacy") maps the pre-tokenized
 * words through the vocabulary and takes the unknown token from tokenizer_config.json, so we always
 * write both files. The files follow the Rust library's WordLevel schema, so other tools can read them.
 */
import * as path from 'path';
import { writeJsonAtomic } from '@hiedit/tensor-core';

/** Special tokens, in id order 0..3. */
export const WORD_SPECIALS = { unk: '<unk>', bos: '<s>', eos: '</s>', pad: '<pad>' } as const;

/**
 * Splits text exactly as the Whitespace pre-tokenizer of @huggingface/tokenizers does (`\w+|[^\w\s]+`,
 * ASCII word characters), so every word collected here is a token the loader will find.
 */
export function preTokenize(text: string): string[] {
  return text.match(/\w+|[^\w\s]+/g) ?? [];
}

/** The two JSON files of a tokenizer directory, plus the vocabulary in id order. */
export interface WordTokenizerFiles {
  readonly tokenizerJson: Record<string, unknown>;
  readonly tokenizerConfig: Record<string, unknown>;
  readonly vocab: readonly string[];
}

/**
 * Builds a word-level tokenizer whose vocabulary is every word of `texts`: specials first, then words by
 * descending frequency, ties alphabetical — deterministic for a given corpus (multiset of texts).
 */
export function buildWordTokenizer(texts: Iterable<string>, opts: { maxLength?: number } = {}): WordTokenizerFiles {
  const counts = new Map<string, number>();
  for (const t of texts) for (const w of preTokenize(t)) counts.set(w, (counts.get(w) ?? 0) + 1);
  const specials = [WORD_SPECIALS.unk, WORD_SPECIALS.bos, WORD_SPECIALS.eos, WORD_SPECIALS.pad];
  for (const s of specials) counts.delete(s);
  const words = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([w]) => w);
  const vocab = [...specials, ...words];
  const vocabObj: Record<string, number> = {};
  vocab.forEach((w, i) => (vocabObj[w] = i));
  const special = (id: number, content: string): Record<string, unknown> => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((s, i) => special(i, s)),
    normalizer: null,
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: WORD_SPECIALS.bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: WORD_SPECIALS.bos, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: WORD_SPECIALS.bos, type_id: 1 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { [WORD_SPECIALS.bos]: { id: WORD_SPECIALS.bos, ids: [1], tokens: [WORD_SPECIALS.bos] } },
    },
    decoder: null,
    model: { type: 'WordLevel', vocab: vocabObj, unk_token: WORD_SPECIALS.unk },
  };
  const tokenizerConfig = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: WORD_SPECIALS.bos,
    eos_token: WORD_SPECIALS.eos,
    unk_token: WORD_SPECIALS.unk,
    pad_token: WORD_SPECIALS.pad,
    add_bos_token: true,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
    model_max_length: opts.maxLength ?? 128,
  };
  return { tokenizerJson, tokenizerConfig, vocab };
}

/** Writes tokenizer.json and tokenizer_config.json into `dir` (each atomically). */
export function writeWordTokenizer(dir: string, files: WordTokenizerFiles): string[] {
  const json = path.join(dir, 'tokenizer.json');
  const config = path.join(dir, 'tokenizer_config.json');
  writeJsonAtomic(json, files.tokenizerJson);
  writeJsonAtomic(config, files.tokenizerConfig);
  return [json, config];
}
