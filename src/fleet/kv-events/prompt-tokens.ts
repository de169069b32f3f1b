// The token ids an engine prefills for an OpenAI request, as vLLM computes them, so their block
// hashes can be compared with the engine's KV events:
//   /v1/completions       prompt (a string) encoded with special tokens (BOS); a token-id array as is
//   /v1/chat/completions  the chat template rendered (messages, add_generation_prompt = true,
//                         bos_token / eos_token from tokenizer_config.json), encoded without
//                         adding special tokens (the template writes them)
// Not covered (→ undefined with a reason, and the caller uses the approximate index): several
// prompts in one request, image/audio parts (multimodal blocks carry extra hash keys), `tools`
// (templates render them; not passed here), LoRA adapters and cache_salt (extra keys).
// `maxTokens` bounds the work: only a prefix of the text is tokenized (6 chars a token, doubled
// while that yields too few tokens), and when text was cut the last `safetyTokens` tokens are
// dropped (the cut may split a word whose tokens differ from the full text's).
import { readFileSync } from 'node:fs';
import { Template } from '@huggingface/jinja';
import type { LoadedTokenizer } from './tokenizer.js';

export type PromptFailure = 'no-template' | 'multimodal' | 'tools' | 'prompt-shape' | 'template-error';
export type PromptTokens =
  | { ok: true; ids: number[]; truncated: boolean; /** Share of the prompt the ids cover (1 unless cut). */ coverage: number }
  | { ok: false; reason: PromptFailure };
/** A request's prompt as the engine sees it before tokenizing. */
export type PromptSource = { ok: true; text: string; special: boolean; ids?: undefined } | { ok: true; ids: readonly number[]; text?: undefined };

const FIRST_CHARS_PER_TOKEN = 6;
const MAX_CHARS_PER_TOKEN = 48;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function specialToken(v: unknown): string {
  if (typeof v === 'string') return v;
  if (isRecord(v) && typeof v['content'] === 'string') return v['content'];
  return '';
}

/** The chat template to use: a file's text, else tokenizer_config.json's `chat_template` (a string or the `default` of a named list). */
export function chatTemplateOf(tok: LoadedTokenizer, file?: string): string | undefined {
  if (file !== undefined) return readFileSync(file, 'utf8');
  const t = tok.config['chat_template'];
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    for (const e of t) if (isRecord(e) && e['name'] === 'default' && typeof e['template'] === 'string') return e['template'];
  }
  return undefined;
}

export class PromptTokenizer {
  private readonly template: Template | undefined;
  private readonly bos: string;
  private readonly eos: string;

  constructor(
    readonly tokenizer: LoadedTokenizer,
    chatTemplate: string | undefined,
  ) {
    this.template = chatTemplate !== undefined ? new Template(chatTemplate) : undefined;
    this.bos = specialToken(tokenizer.config['bos_token']);
    this.eos = specialToken(tokenizer.config['eos_token']);
  }

  /** The rendered chat prompt (text only), or a reason it cannot be rendered the engine's way. */
  renderChat(body: Readonly<Record<string, unknown>>): { ok: true; text: string } | { ok: false; reason: PromptFailure } {
    if (this.template === undefined) return { ok: false, reason: 'no-template' };
    if (Array.isArray(body['tools']) && body['tools'].length > 0) return { ok: false, reason: 'tools' };
    const messages = body['messages'];
    if (!Array.isArray(messages)) return { ok: false, reason: 'prompt-shape' };
    const msgs: Array<Record<string, unknown>> = [];
    for (const m of messages) {
      if (!isRecord(m)) return { ok: false, reason: 'prompt-shape' };
      let content = m['content'];
      if (Array.isArray(content)) {
        let text = '';
        for (const p of content) {
          if (isRecord(p) && p['type'] === 'text' && typeof p['text'] === 'string') text += p['text'];
          else return { ok: false, reason: 'multimodal' };
        }
        content = text;
      }
      msgs.push({ ...m, content: content ?? '' });
    }
    try {
      return { ok: true, text: this.template.render({ messages: msgs, add_generation_prompt: true, bos_token: this.bos, eos_token: this.eos }) };
    } catch {
      return { ok: false, reason: 'template-error' };
    }
  }

  /** What the engine tokenizes for this request: rendered text (and whether BOS is added), or token ids given as the prompt. */
  source(api: 'chat' | 'completion', body: Readonly<Record<string, unknown>>): PromptSource | { ok: false; reason: PromptFailure } {
    if (api === 'chat') {
      const r = this.renderChat(body);
      return r.ok ? { ok: true, text: r.text, special: false } : r;
    }
    const p = body['prompt'];
    if (Array.isArray(p) && p.length > 0 && p.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0)) return { ok: true, ids: p as number[] };
    if (Array.isArray(p) && p.length === 1 && typeof p[0] === 'string') return { ok: true, text: p[0], special: true };
    if (typeof p === 'string') return { ok: true, text: p, special: true };
    return { ok: false, reason: 'prompt-shape' };
  }

  /** The first `maxTokens` token ids of a source (fewer when the text was cut: see the header). */
  prefix(src: PromptSource, maxTokens = Infinity, safetyTokens = 16): PromptTokens {
    if (src.ids !== undefined) {
      const ids = src.ids;
      return {
        ok: true,
        ids: ids.length > maxTokens ? ids.slice(0, maxTokens) : ids.slice(),
        truncated: ids.length > maxTokens,
        coverage: Math.min(1, maxTokens / ids.length),
      };
    }
    const text = src.text;
    // A prefix of ≈ 6 chars a token first (English runs 3–5); doubled while it gives too few tokens.
    let maxChars = Number.isFinite(maxTokens) ? maxTokens * FIRST_CHARS_PER_TOKEN : Infinity;
    let cut: boolean;
    let all: number[];
    for (;;) {
      cut = text.length > maxChars;
      all = this.tokenizer.encode(cut ? text.slice(0, maxChars) : text, { addSpecialTokens: src.special });
      if (!cut || all.length >= maxTokens + safetyTokens || maxChars >= MAX_CHARS_PER_TOKEN * maxTokens) break;
      maxChars *= 2;
    }
    const keep = cut ? Math.max(0, Math.min(maxTokens, all.length - safetyTokens)) : Math.min(maxTokens, all.length);
    const ids = keep < all.length ? all.slice(0, keep) : all;
    const coverage = all.length === 0 ? 1 : (keep / all.length) * (cut ? maxChars / text.length : 1);
    return { ok: true, ids, truncated: keep < all.length || cut, coverage };
  }

  /** Token ids the engine prefills for this request (at most `maxTokens` of them). */
  tokens(api: 'chat' | 'completion', body: Readonly<Record<string, unknown>>, maxTokens = Infinity, safetyTokens = 16): PromptTokens {
    const src = this.source(api, body);
    return src.ok ? this.prefix(src, maxTokens, safetyTokens) : src;
  }
}
