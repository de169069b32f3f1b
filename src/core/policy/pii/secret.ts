// secret — API keys, tokens and private keys, by their published shapes.
// Matches (each but the private key standing clear of [A-Za-z0-9_-] on the left):
//  - OpenAI and Anthropic: sk-… (also sk-proj-…, sk-svcacct-…, sk-ant-api03-…): at least 20
//    characters of [A-Za-z0-9_-] after "sk-" holding a run of 16+ letters/digits (so a
//    hyphenated phrase like "sk-this-is-not-a-key" is not one).
//  - Stripe: sk_live_ / sk_test_ / rk_live_ / rk_test_ + 16+ letters/digits.
//  - AWS access key ids: AKIA or ASIA + 16 of [0-9A-Z].
//  - GitHub: ghp_/gho_/ghu_/ghs_/ghr_ + 36+ letters/digits; github_pat_ + 50+ of [A-Za-z0-9_].
//  - Slack: xoxa-/xoxb-/xoxp-/xoxr- + 20+ of [A-Za-z0-9-].
//  - Google API keys: AIza + 35 of [0-9A-Za-z_-].
//  - JWTs: three base64url segments, the first starting eyJ ('{"'), each 10+ long.
//  - Bearer tokens (the token, not the word): "Bearer" or "BEARER" + 20+ token68 characters,
//    holding a digit or both cases — "Bearer YOUR_API_KEY_HERE" and "Bearer $TOKEN" are not;
//    lower-case "bearer" is not looked for (prose: "the bearer of").
//  - Private keys: -----BEGIN [… ]PRIVATE KEY----- to its -----END …PRIVATE KEY----- (RSA,
//    EC, DSA, OPENSSH, ENCRYPTED, PGP "… KEY BLOCK"); with no END line (a truncated paste) up
//    to the end of the base64 body and RFC 1421 header lines after the BEGIN line.
// Public keys and certificates are not secrets and are not reported.
// Cost: prefixes are found through one rare character each, with indexOf (a memchr, far
// cheaper than a regex pass): '-' (sk-, xox?-, -----BEGIN), '_' (sk_live_, gh?_, github_pat_),
// 'J' (eyJ), 'A' (AKIA, ASIA, AIza), 'B' (Bearer). Each hit is checked with a sticky regex
// at that spot, and the scan resumes after a match.
import type { Collector } from './types.js';
import { at, isAsciiLetter, isDigit, isUpper, isWord } from './chars.js';

const OPENAI = /sk-[A-Za-z0-9_-]{20,}/y;
const STRIPE = /[rs]k_(?:live|test)_[A-Za-z0-9]{16,}(?![A-Za-z0-9_-])/y;
const AWS = /A[KS]IA[0-9A-Z]{16}(?![A-Za-z0-9_-])/y;
const GITHUB = /gh[pousr]_[A-Za-z0-9]{36,}(?![A-Za-z0-9_-])/y;
const GITHUB_PAT = /github_pat_[A-Za-z0-9_]{50,}(?![A-Za-z0-9-])/y;
const SLACK = /xox[abpr]-[A-Za-z0-9-]{20,}(?![A-Za-z0-9_])/y;
const GOOGLE = /AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])/y;
const JWT = /eyJ[A-Za-z0-9_-]{7,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}(?![A-Za-z0-9_-])/y;
const BEARER = /(?:Bearer|BEARER)\s+([A-Za-z0-9._~+/-]{20,}=*)(?![A-Za-z0-9._~+/=-])/y;
const PEM_BEGIN = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/y;
const PEM_END = /-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/y;
const PEM_BODY = /(?:\r?\n(?:[A-Za-z0-9+/=]+|[A-Za-z-]+: [^\r\n]*))*/y;
const PEM_MAX = 32 * 1024;

/** End of `re` matched exactly at `from`, or -1. */
function stick(re: RegExp, text: string, from: number): number {
  re.lastIndex = from;
  return re.test(text) ? re.lastIndex : -1;
}

function hasAlnumRun(text: string, from: number, to: number, run: number): boolean {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    n = isAsciiLetter(c) || isDigit(c) ? n + 1 : 0;
    if (n >= run) return true;
  }
  return false;
}

/** The token after "Bearer" at `from` (the word itself is not reported). */
function atB(text: string, from: number): readonly [number, number] | undefined {
  const e = at(text, from + 1);
  if ((e !== 101 && e !== 69) || !clearBefore(text, from)) return undefined;
  BEARER.lastIndex = from;
  const m = BEARER.exec(text);
  const token = m?.[1];
  if (m === null || token === undefined) return undefined;
  const end = BEARER.lastIndex;
  const start = end - token.length;
  let digit = false;
  let upper = false;
  let lower = false;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (isDigit(c)) digit = true;
    else if (isUpper(c)) upper = true;
    else if (isAsciiLetter(c)) lower = true;
  }
  return digit || (upper && lower) ? [start, end] : undefined;
}

/** Where the next "-----END " at or after the last lookup is: -1 none, -2 not looked up yet (per scan). */
let nextEnd = -2;

function privateKey(text: string, from: number): number {
  const head = stick(PEM_BEGIN, text, from);
  if (head < 0) return -1;
  if (nextEnd !== -1 && nextEnd < head) nextEnd = text.indexOf('-----END ', head);
  while (nextEnd !== -1 && nextEnd - head <= PEM_MAX) {
    const end = stick(PEM_END, text, nextEnd);
    if (end >= 0) return end;
    nextEnd = text.indexOf('-----END ', nextEnd + 1);
  }
  return stick(PEM_BODY, text, head);
}

/** The token can start at `from`: nothing of a longer token glued on the left. */
function clearBefore(text: string, from: number): boolean {
  const c = at(text, from - 1);
  return !isWord(c) && c !== 45;
}

function openai(text: string, from: number): number {
  const end = stick(OPENAI, text, from);
  return end < 0 || !hasAlnumRun(text, from + 3, end, 16) ? -1 : end;
}

/** Secret around the '-' at i (sk-…, xox?-…, -----BEGIN …): [start, end] or undefined. */
function atDash(text: string, i: number): readonly [number, number] | undefined {
  const prev = at(text, i - 1);
  if (prev === 45 || isWord(prev)) {
    if (prev === 107 && at(text, i - 2) === 115 && clearBefore(text, i - 2)) {
      const end = openai(text, i - 2);
      return end < 0 ? undefined : [i - 2, end];
    }
    if (i >= 4 && at(text, i - 4) === 120 && text.startsWith('xox', i - 4) && clearBefore(text, i - 4)) {
      const end = stick(SLACK, text, i - 4);
      return end < 0 ? undefined : [i - 4, end];
    }
    return undefined;
  }
  if (at(text, i + 1) !== 45 || !text.startsWith('-----BEGIN ', i)) return undefined;
  const end = privateKey(text, i);
  return end < 0 ? undefined : [i, end];
}

/** Secret around the '_' at i (sk_live_…, rk_test_…, gh?_…, github_pat_…). */
function atUnderscore(text: string, i: number): readonly [number, number] | undefined {
  const from =
    i >= 2 && text.startsWith('k', i - 1) ? i - 2 : i >= 3 && text.startsWith('gh', i - 3) ? i - 3 : i >= 6 && text.startsWith('github', i - 6) ? i - 6 : -1;
  if (from < 0 || !clearBefore(text, from)) return undefined;
  const end = stick(from === i - 2 ? STRIPE : from === i - 3 ? GITHUB : GITHUB_PAT, text, from);
  return end < 0 ? undefined : [from, end];
}

/** Calls `check` at every occurrence of `ch`, resuming after whatever it matched. */
function eachAnchor(text: string, ch: string, check: (text: string, i: number) => readonly [number, number] | undefined, out: Collector): void {
  let i = text.indexOf(ch);
  while (i !== -1) {
    const hit = check(text, i);
    if (hit !== undefined) out.add('secret', hit[0], hit[1]);
    i = text.indexOf(ch, hit === undefined ? i + 1 : Math.max(hit[1], i + 1));
  }
}

function atJ(text: string, i: number): readonly [number, number] | undefined {
  if (i < 2 || !text.startsWith('ey', i - 2) || !clearBefore(text, i - 2)) return undefined;
  const end = stick(JWT, text, i - 2);
  return end < 0 ? undefined : [i - 2, end];
}

function atA(text: string, i: number): readonly [number, number] | undefined {
  if (!clearBefore(text, i)) return undefined;
  const c1 = at(text, i + 1);
  const end = c1 === 73 ? stick(GOOGLE, text, i) : c1 === 75 || c1 === 83 ? stick(AWS, text, i) : -1;
  return end < 0 ? undefined : [i, end];
}

export function findSecrets(text: string, out: Collector): void {
  nextEnd = -2;
  eachAnchor(text, '-', atDash, out);
  eachAnchor(text, '_', atUnderscore, out);
  eachAnchor(text, 'J', atJ, out);
  eachAnchor(text, 'A', atA, out);
  eachAnchor(text, 'B', atB, out);
}
