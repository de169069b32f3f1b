// The bundled tokenizer loads from disk (no network) and gives the ids of the Rust reference
// implementation (fixture made with Hugging Face's `tokenizers` Node binding on the same file).
import { readFileSync, writeFileSync, mkdtempSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundledTokenizerPath, loadTokenizer } from '../../src/fleet/kv-events/tokenizer.js';
import { blockHashChain } from '../../src/fleet/kv-events/block-hash.js';

interface IdCase {
  text: string;
  addSpecialTokens: boolean;
  ids: number[];
}
const fixtures = new URL('../fixtures/kv-events/', import.meta.url);
const idCases = (JSON.parse(readFileSync(new URL('tokenizer-ids.json', fixtures), 'utf8')) as { cases: IdCase[] }).cases;

describe('tokenizer', () => {
  const tok = loadTokenizer(bundledTokenizerPath());

  it('is the bundled 32k-vocabulary tokenizer.json of an npm dependency', () => {
    expect(bundledTokenizerPath()).toMatch(/@lenml[/\\]tokenizer-llama2[/\\]models[/\\]tokenizer\.json$/);
    expect(tok.vocabSize).toBe(32000);
  });

  it.each(idCases.map((c) => [JSON.stringify(c.text).slice(0, 40), c.addSpecialTokens, c] as const))(
    'matches the Rust tokenizers ids: %s (special tokens: %s)',
    (_t, _s, c) => {
      expect(tok.encode(c.text, { addSpecialTokens: c.addSpecialTokens })).toEqual(c.ids);
    },
  );

  it('is deterministic, across calls and across loads', () => {
    const text = 'Deterministic? '.repeat(200);
    const a = tok.encode(text);
    expect(tok.encode(text)).toEqual(a);
    expect(loadTokenizer(bundledTokenizerPath()).encode(text)).toEqual(a);
  });

  it('loads a tokenizer.json copied anywhere, with or without its tokenizer_config.json', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kvfleet-tok-'));
    copyFileSync(bundledTokenizerPath(), join(dir, 'tokenizer.json'));
    expect(loadTokenizer(join(dir, 'tokenizer.json')).encode('Hello, world!', { addSpecialTokens: false })).toEqual([22557, 28725, 1526, 28808]);
    writeFileSync(join(dir, 'bad.json'), '{"not": "a tokenizer"}');
    expect(() => loadTokenizer(join(dir, 'bad.json'))).toThrow(/tokenizer\.json/);
  });

  it('feeds the block hasher: prompt → ids → chained block hashes', () => {
    const ids = tok.encode('<|user|>\nWhat is KV-cache aware routing?\n<|assistant|>\n');
    const c = idCases.find((x) => x.text.startsWith('<|user|>') && x.addSpecialTokens);
    expect(ids).toEqual(c?.ids);
    expect(blockHashChain(ids, { blockSize: 16, seed: '0' })).toHaveLength(Math.floor(ids.length / 16));
  });
});

describe('tokenizer word-split fast path', () => {
  const fast = loadTokenizer(bundledTokenizerPath());
  const plain = loadTokenizer(bundledTokenizerPath(), { wordSplit: false });

  it('applies to the bundled file and gives the same ids as plain BPE on every fixture', () => {
    expect(fast.wordSplit).toBe(true);
    expect(plain.wordSplit).toBe(false);
    for (const c of idCases) expect(fast.encode(c.text, { addSpecialTokens: c.addSpecialTokens })).toEqual(c.ids);
  });

  it('gives the same ids as plain BPE on generated text (spaces runs, punctuation, digits, unicode)', () => {
    let s = 7;
    const rnd = (n: number): number => {
      s = (s * 1103515245 + 12345) % 2147483648;
      return s % n;
    };
    const pieces = ['the', ' ', '  ', '\n', 'Ünïcode', '日本語', '123', '4.5', ',', '!', 'token', 'izer', '\t', '   x', 'éclair', '🙂', '--', 'A'];
    for (let k = 0; k < 30; k++) {
      let text = '';
      for (let j = 0; j < 60; j++) text += pieces[rnd(pieces.length)];
      expect(fast.encode(text)).toEqual(plain.encode(text));
    }
  });
});
