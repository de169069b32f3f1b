// The request a recorded line stands for. With a recorded body (include_prompts) it is that
// body. Without one, the text is synthesised from the block keys so that the recorded prefix
// structure survives:
//   layout   the recorded messages [role, chars] give kvfleet's render,
//            Σ "<|role|>\n" text "\n" (core/fingerprint.ts), of the original length
//   stream   G of that length: block j (block_chars characters) is text generated from key j
//            (bench/text.ts sourceText: letters and spaces, never language), the rest from the
//            tail key (the render after the last block, so an exact repeat repeats whole)
//   texts    message i's text is G at the positions its text had in the render
// Two recorded requests that shared k leading blocks had the same render — markers included —
// over those k × block_chars characters, and the same k keys: their synthesised renders are
// identical there too, so they share that prefix again at any block size up to block_chars
// (kvfleet's prefix index and an engine's KV cache alike). What is lost: sharing inside a
// partial block (the text after the last full block, unless the whole prompt repeats), and so
// kvfleet's inferred sessions: a conversation kvfleet inferred is placed by its prefix again,
// not joined by inference. Recorded sessions with an id (x-session-id, user) are sent as
// x-session-id (a hash of the original, never the id itself).
import type { ApiKind } from '../../config/names.js';
import type { PromptSegment } from '../../request/types.js';
import { hashKey, salted } from '../../core/hash.js';
import { sourceText } from '../bench/text.js';
import type { ReplayLine } from './records.js';

export const API_PATHS_BY_KIND: Readonly<Record<ApiKind, string>> = {
  chat: '/v1/chat/completions',
  completion: '/v1/completions',
  embedding: '/v1/embeddings',
};

/** Stands for the recorded request's tools (their definitions are not recorded). */
const REPLAY_TOOL = {
  type: 'function',
  function: { name: 'replay_tool', description: 'stand-in for the recorded tools', parameters: { type: 'object', properties: {} } },
};

/** The block size assumed for lines that do not say (kvfleet's default 64 tokens × 4 characters). */
const DEFAULT_BLOCK_CHARS = 256;
const CHARS_PER_TOKEN = 4;
const CACHE_MAX = 4096;
const cache = new Map<string, string>();

/** `n` characters of text generated from a 52-bit key; the same key and length always give the same text. */
export function keyText(key: number, n: number): string {
  if (n <= 0) return '';
  const id = `${key}:${n}`;
  const hit = cache.get(id);
  if (hit !== undefined) return hit;
  const text = sourceText(key, Math.ceil(n / CHARS_PER_TOKEN), CHARS_PER_TOKEN).slice(0, n);
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
  cache.set(id, text);
  return text;
}

const marker = (role: string): string => `<|${role}|>\n`;

/**
 * The synthesised prompt segments of a line without a body (roles and sizes as recorded).
 * `seed` salts every key (a bijection: equal keys stay equal), so each replay run sends text
 * no earlier run sent and starts on cold caches, as the recording did.
 */
export function synthSegments(line: ReplayLine, seed = 0): PromptSegment[] {
  const msgs = line.messages ?? [];
  const bc = line.block_chars ?? DEFAULT_BLOCK_CHARS;
  const salt = seed === 0 ? 0 : hashKey(`replay-seed:${seed}`);
  const keys = (line.blocks ?? []).map((h) => salted(parseInt(h, 16), salt));
  const tailKey = salted(line.tail !== undefined ? parseInt(line.tail, 16) : hashKey(`replay-tail:${line.run}:${line.rid}`), salt);
  let total = 0;
  for (const [role, chars] of msgs) total += marker(role).length + chars + 1;
  const parts: string[] = [];
  let len = 0;
  for (const k of keys) {
    if (len >= total) break;
    const t = keyText(k, Math.min(bc, total - len));
    parts.push(t);
    len += t.length;
  }
  if (len < total) parts.push(keyText(tailKey, total - len));
  const g = parts.join('');
  const out: PromptSegment[] = [];
  let pos = 0;
  for (const [role, chars] of msgs) {
    pos += marker(role).length;
    out.push({ role, text: g.slice(pos, pos + chars) });
    pos += chars + 1;
  }
  return out;
}

export interface ReplayRequest {
  readonly path: string;
  readonly body: Record<string, unknown>;
  readonly headers: Record<string, string>;
}

/**
 * The request for `line`, asking for `model` (--models) or the model it asked for. Streams
 * ask for a usage chunk (stream_options.include_usage) so tokens can be compared.
 */
export function replayRequest(line: ReplayLine, model: string | undefined, requestId: string, seed = 0): ReplayRequest | undefined {
  const api = line.api;
  if (api === undefined) return undefined;
  const name = model ?? line.model ?? line.chosen;
  if (name === undefined) return undefined;
  let body: Record<string, unknown>;
  if (line.body !== undefined) {
    body = { ...line.body, model: name };
  } else if (line.messages !== undefined) {
    const segs = synthSegments(line, seed);
    const texts = segs.map((s) => s.text);
    body = { model: name };
    if (api === 'chat') body['messages'] = segs.map((s) => ({ role: s.role, content: s.text }));
    else body[api === 'completion' ? 'prompt' : 'input'] = texts.length === 1 ? texts[0] : texts;
    if (api !== 'embedding') {
      body['stream'] = line.stream;
      if (line.max_tokens !== undefined) body['max_tokens'] = line.max_tokens;
      if (line.temperature !== undefined) body['temperature'] = line.temperature;
      // Capabilities the request needed (kvfleet filters models on them): a stand-in of each.
      if (line.json_mode === true) body['response_format'] = { type: 'json_object' };
      if (line.tools === true && api === 'chat') body['tools'] = [REPLAY_TOOL];
    }
  } else return undefined;
  if (api !== 'embedding' && body['stream'] === true && body['stream_options'] === undefined) body['stream_options'] = { include_usage: true };
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': requestId };
  if (line.session !== undefined && line.session_source !== 'inferred')
    headers['x-session-id'] = model !== undefined ? `replay-${line.session}-${model}` : `replay-${line.session}`;
  return { path: API_PATHS_BY_KIND[api], body, headers };
}
