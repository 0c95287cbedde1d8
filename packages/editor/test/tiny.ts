/**
 * Test fixtures over llm-loader's real tiny models: a seeded random GPT-2 / Llama and a whitespace
 * word tokenizer (through llm-loader's real tokenizeTuple) so requests can be written as text.
 */
import { CausalLM, createModel, tokenizeTuple, Tokenizer } from '@hiedit/llm-loader';
import { TupleTokenizer } from '../src/model';

/** 60 words; ids 4.. after pad/bos/eos/unk (0..3). */
export const WORDS = ('the a of in is was capital city country river language speaks plays sport team born ' +
  'Paris London Rome Berlin Madrid France England Italy Germany Spain French English Italian German Spanish ' +
  'football tennis golf chess piano guitar violin red blue green Alice Bob Carol Dave Erin Frank Grace Heidi ' +
  'Ivan Judy lives works at near by from').split(' ');

export function tinyGpt2Config(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', vocab_size: 96, n_positions: 32, n_embd: 32,
    n_layer: 2, n_head: 4, n_inner: null, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5,
    scale_attn_weights: true, tie_word_embeddings: true, bos_token_id: 1, eos_token_id: 2, initializer_range: 0.1,
    ...overrides };
}

export function tinyGpt2(seed = 1, overrides: Record<string, unknown> = {}): CausalLM {
  return createModel(tinyGpt2Config(overrides), seed);
}

/** A word-level Tokenizer (BOS = 1 prepended with special tokens), enough for tokenizeTuple. */
export function wordTokenizer(): Tokenizer {
  const ids = new Map(WORDS.map((w, i) => [w, i + 4]));
  const encode = (text: string, opts?: { addSpecialTokens?: boolean }): number[] => {
    const out = text.split(/\s+/).filter((w) => w.length > 0).map((w) => ids.get(w) ?? 3);
    return opts?.addSpecialTokens ? [1, ...out] : out;
  };
  return {
    encode, vocabSize: 96, bosTokenId: 1, eosTokenId: 2, files: [],
    decode: (list: number[]) => list.map((i) => (i >= 4 ? WORDS[i - 4] : `<${i}>`)).join(' '),
  };
}

export const tupleTokenizer: TupleTokenizer = (() => {
  const tok = wordTokenizer();
  return (p: string, a: string) => tokenizeTuple(tok, p, a);
})();
