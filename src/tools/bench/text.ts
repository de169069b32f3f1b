// Prompt text for the spans of a workload request (live runs send it; the kvfleet adapter of
// the virtual benchmark fingerprints it). Token j of source s is charsPerToken characters:
// letters drawn from a hash of (s, j), then a space. A source's first L tokens are always the
// same text, so requests that share spans share a text prefix — for the simulator's block
// hashes and kvfleet's fingerprint alike. Never real language; never a secret.
// Speed (the virtual benchmark renders ~10^6 prompts of up to 90k tokens):
//   - letters are written as bytes into one buffer and decoded once (latin1), no string
//     concatenation per token;
//   - every source's text is memoised (bounded LRU by characters) and extended in place: a
//     follow-up turn renders only its new tokens;
//   - chatMessages(…, maxChars) stops once the messages hold maxChars characters: a caller
//     that reads only a prefix of the prompt (kvfleet's fingerprint reads at most
//     max_blocks × block characters) never renders the rest.
import { SRC_SYSTEM, SRC_QUESTION, type BenchRequest, type Span } from './workload.js';

const A = 97; // 'a'
const SPACE = 32;
/** Memo budget, characters over all sources (≈ 2 bytes each in V8's worst case). */
const MEMO_CHARS = 48 * 1024 * 1024;
const memo = new Map<number, string>();
let memoChars = 0;

function mix(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ b;
  h = Math.imul(h ^ (h >>> 16), 0xc2b2ae35);
  return (h ^ (h >>> 13)) >>> 0;
}

// Its own ArrayBuffer (not the shared pool), so a 32-bit view of it starts aligned.
let scratch = Buffer.from(new ArrayBuffer(1 << 16));
let scratch32 = new Uint32Array(scratch.buffer);

/**
 * The 4-character tokens (3 letters and a space) as little-endian 32-bit words, indexed by
 * h mod 26³: for h ≥ 26², the letters the per-character loop below writes are the three
 * lowest base-26 digits of h (no division reaches 0, so mix() is never called), so one
 * table read gives the same four bytes. 17,576 words, built on first use.
 */
let words: Uint32Array | undefined;
const WORDS = 26 * 26 * 26;

function wordTable(): Uint32Array {
  if (words !== undefined) return words;
  const t = new Uint32Array(WORDS);
  for (let h = 0; h < WORDS; h++) t[h] = (A + (h % 26)) | ((A + (Math.floor(h / 26) % 26)) << 8) | ((A + Math.floor(h / 676)) << 16) | (SPACE << 24);
  words = t;
  return t;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Tokens [from, to) at 4 characters each, written into scratch (length ≥ 4 × (to − from)); `w` is its 32-bit view. */
function generate4(seed: number, from: number, to: number, b: Buffer, w: Uint32Array): void {
  const table = wordTable();
  const le = LITTLE_ENDIAN;
  for (let j = from, q = 0; j < to; j++, q++) {
    const h = mix(seed, j);
    if (h < 676) slowToken(h, 4, b, 4 * q);
    else if (le) w[q] = table[h % WORDS] as number;
    else b.writeUInt32LE(table[h % WORDS] as number, 4 * q);
  }
}

/** One token's characters by the reference rule (letters from h in base 26, re-mixed when h runs out). */
function slowToken(h: number, charsPerToken: number, b: Buffer, p: number): void {
  for (let c = 0; c < charsPerToken - 1; c++) {
    b[p++] = A + (h % 26);
    h = Math.floor(h / 26) || mix(h, c);
  }
  b[p] = SPACE;
}

/** Text of tokens [from, to) of source `src`. */
function generate(src: number, from: number, to: number, charsPerToken: number): string {
  const lo = src >>> 0;
  const hi = Math.floor(src / 4294967296);
  const seed = mix(lo, hi);
  const len = (to - from) * charsPerToken;
  if (scratch.length < len) {
    scratch = Buffer.from(new ArrayBuffer(Math.ceil(Math.max(len, scratch.length * 2) / 4) * 4));
    scratch32 = new Uint32Array(scratch.buffer);
  }
  const b = scratch;
  if (charsPerToken === 4) generate4(seed, from, to, b, scratch32);
  else for (let j = from, p = 0; j < to; j++, p += charsPerToken) slowToken(mix(seed, j), charsPerToken, b, p);
  return b.toString('latin1', 0, len);
}

function remember(key: number, text: string): void {
  const old = memo.get(key);
  if (old !== undefined) {
    memo.delete(key);
    memoChars -= old.length;
  }
  memo.set(key, text);
  memoChars += text.length;
  while (memoChars > MEMO_CHARS && memo.size > 1) {
    const [k, v] = memo.entries().next().value as [number, string];
    memo.delete(k);
    memoChars -= v.length;
  }
}

/** Text of the first `tokens` tokens of source `src` (memoised, extended on demand). */
export function sourceText(src: number, tokens: number, charsPerToken = 4): string {
  const want = tokens * charsPerToken;
  const key = src * 64 + charsPerToken;
  const hit = memo.get(key);
  if (hit !== undefined && hit.length >= want) {
    // Refresh in LRU order only for shared sources (cheap enough either way).
    if (src >= SRC_SYSTEM && src < SRC_QUESTION) {
      memo.delete(key);
      memo.set(key, hit);
    }
    return hit.length === want ? hit : hit.slice(0, want);
  }
  const have = hit !== undefined ? hit.length / charsPerToken : 0;
  const text = hit !== undefined ? hit + generate(src, have, tokens, charsPerToken) : generate(src, 0, tokens, charsPerToken);
  if (text.length <= MEMO_CHARS / 16) remember(key, text);
  return text;
}

export interface ChatMessage {
  readonly role: 'system' | 'user';
  readonly content: string;
}

/**
 * The request as chat messages: system spans → one system message, the rest → one user
 * message. With `maxChars`, text is rendered only until the messages hold maxChars characters
 * (in span order); the rest is left out. The messages are the same as without the limit up to
 * that point, and there are as many of them.
 */
export function chatMessages(spans: readonly Span[], charsPerToken = 4, maxChars = Infinity): ChatMessage[] {
  let system = '';
  let user = '';
  let hasSystem = false;
  let left = maxChars;
  for (const s of spans) {
    if (s.role === 'system' && s.tokens > 0) hasSystem = true;
    if (left <= 0) continue;
    const tokens = Math.min(s.tokens, Math.ceil(left / charsPerToken));
    const t = sourceText(s.src, tokens, charsPerToken);
    left -= t.length;
    if (s.role === 'system') system += t;
    else user += t;
  }
  const out: ChatMessage[] = [];
  if (hasSystem) out.push({ role: 'system', content: system });
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
