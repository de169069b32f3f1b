// Prompt text for the spans of a workload request (live runs send it; the kvfleet adapter of
// the virtual benchmark fingerprints it). Token j of source s is charsPerToken characters:
// letters drawn from a hash of (s, j), then a space. A source's first L tokens are always the
// same text, so requests that share spans share a text prefix — for the simulator's block
// hashes and kvfleet's fingerprint alike. Never real language; never a secret.
import { SRC_SYSTEM, SRC_QUESTION, type BenchRequest, type Span } from './workload.js';

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const CACHE_MAX = 512;
const cache = new Map<number, string>();

function mix(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ b;
  h = Math.imul(h ^ (h >>> 16), 0xc2b2ae35);
  return (h ^ (h >>> 13)) >>> 0;
}

function generate(src: number, tokens: number, charsPerToken: number): string {
  const lo = src >>> 0;
  const hi = Math.floor(src / 4294967296);
  const seed = mix(lo, hi);
  const parts = new Array<string>(tokens);
  for (let j = 0; j < tokens; j++) {
    let h = mix(seed, j);
    let t = '';
    for (let c = 0; c < charsPerToken - 1; c++) {
      t += LETTERS.charAt(h % 26);
      h = Math.floor(h / 26) || mix(h, c);
    }
    parts[j] = `${t} `;
  }
  return parts.join('');
}

/** Text of the first `tokens` tokens of source `src`. System prompts are memoised (bounded). */
export function sourceText(src: number, tokens: number, charsPerToken = 4): string {
  const shared = src >= SRC_SYSTEM && src < SRC_QUESTION;
  if (!shared) return generate(src, tokens, charsPerToken);
  const want = tokens * charsPerToken;
  const key = src * 64 + charsPerToken;
  const hit = cache.get(key);
  if (hit !== undefined && hit.length >= want) return hit.length === want ? hit : hit.slice(0, want);
  const text = generate(src, tokens, charsPerToken);
  if (cache.size >= CACHE_MAX) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  cache.set(key, text);
  return text;
}

export interface ChatMessage {
  readonly role: 'system' | 'user';
  readonly content: string;
}

/** The request as chat messages: system spans → one system message, the rest → one user message. */
export function chatMessages(spans: readonly Span[], charsPerToken = 4): ChatMessage[] {
  let system = '';
  let user = '';
  for (const s of spans) {
    const t = sourceText(s.src, s.tokens, charsPerToken);
    if (s.role === 'system') system += t;
    else user += t;
  }
  const out: ChatMessage[] = [];
  if (system.length > 0) out.push({ role: 'system', content: system });
  out.push({ role: 'user', content: user });
  return out;
}

/** The OpenAI chat body of a request (streaming, fixed output length). */
export function chatBody(req: BenchRequest, model: string, charsPerToken = 4, stream = true): Record<string, unknown> {
  return {
    model,
    messages: chatMessages(req.spans, charsPerToken),
    max_tokens: req.outputTokens,
    stream,
  };
}
