import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadTokenizer, tokenizeTuple } from '@hiedit/llm-loader';
import { IGNORE_INDEX } from '@hiedit/tensor-core';
import { buildWordTokenizer, preTokenize, writeWordTokenizer } from './wordTokenizer';

describe('word-level tokenizer', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-tok-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const corpus = ['Velmora was born in Tarvoton', 'The birthplace of Velmora is Tarvoton', 'Kesh speaks Orvish, fluently.'];

  it('orders the vocabulary deterministically: specials, then by frequency', () => {
    const a = buildWordTokenizer(corpus);
    const b = buildWordTokenizer([...corpus].reverse());
    expect(a.vocab).toEqual(b.vocab);
    expect(a.vocab.slice(0, 6)).toEqual(['<unk>', '<s>', '</s>', '<pad>', 'Tarvoton', 'Velmora']);
    expect(new Set(a.vocab).size).toBe(a.vocab.length);
  });

  it('loads through llm-loader and round-trips every corpus word', async () => {
    const files = buildWordTokenizer(corpus);
    writeWordTokenizer(dir, files);
    const tok = await loadTokenizer(dir);
    expect(tok.vocabSize).toBe(files.vocab.length);
    expect(tok.bosTokenId).toBe(1);
    expect(tok.eosTokenId).toBe(2);
    for (const text of corpus) {
      const ids = tok.encode(text);
      expect(ids).not.toContain(0);
      expect(ids.map((i) => files.vocab[i])).toEqual(preTokenize(text));
      expect(tok.encode(tok.decode(ids))).toEqual(ids);
    }
    expect(tok.decode(tok.encode('Velmora was born in Tarvoton'))).toBe('Velmora was born in Tarvoton');
    expect(tok.encode('Velmora', { addSpecialTokens: true })).toEqual([1, files.vocab.indexOf('Velmora')]);
    expect(tok.encode('Zzyzx was born')[0]).toBe(0);
  });

  it('gives the teacher-forcing layout of spec §2 with BOS first', async () => {
    writeWordTokenizer(dir, buildWordTokenizer(corpus));
    const tok = await loadTokenizer(dir);
    const t = tokenizeTuple(tok, 'Velmora was born in', 'Tarvoton');
    const id = (w: string): number => tok.encode(w)[0];
    expect(t.ids).toEqual([1, id('Velmora'), id('was'), id('born'), id('in')]);
    expect(t.labels).toEqual([IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, id('Tarvoton')]);
  });
});
