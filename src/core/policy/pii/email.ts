// email — Internet mail addresses, local@domain.tld.
// Matches: a local part of [A-Za-z0-9._%+-] (1–64, not starting or ending with '.', no '..';
// accented Latin, Greek and Cyrillic letters just before it are taken in too, so
// "josé.smith@…" is not half kept; other scripts are not address characters here)
// and a domain of dot-separated labels (letters, digits, inner '-') whose last label is a TLD
// in the IANA root zone (the `tlds` package).
// Never: decorators and mentions (@Component, @user: no local part), `a@b` or `user@localhost`
// (no dotted domain: not deliverable beyond the machine — decided, not reported), `x@w.T` or
// `x@w.transpose` (matrix products: not a TLD), `icon@2x.png` (not a TLD), scoped packages
// `pkg@1.2.3`, and scp-style git remotes `git@github.com:org/repo` (local part `git`).
// Cost: found from each '@' (indexOf, no regex over the whole text): the local part is read
// backwards, the domain with one sticky regex.
import { createRequire } from 'node:module';
import type { Collector } from './types.js';
import { isAsciiLetter, isDigit } from './chars.js';

const DOMAIN = /(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,63})(?![A-Za-z0-9_-])/y;
const MAX_LOCAL = 64;

function loadTlds(): ReadonlySet<string> {
  const list: unknown = createRequire(import.meta.url)('tlds');
  if (!Array.isArray(list)) throw new Error('tlds: expected an array of top-level domains');
  return new Set(list.filter((t): t is string => typeof t === 'string'));
}
const TLDS = loadTlds();

function isLocalChar(c: number): boolean {
  // A-Z a-z 0-9 . _ % + -
  return isAsciiLetter(c) || isDigit(c) || c === 46 || c === 95 || c === 37 || c === 43 || c === 45;
}

/** Accented Latin, Greek and Cyrillic letters (U+00C0–U+024F less × and ÷, U+0370–U+052F). */
function isWideLetter(c: number): boolean {
  return (c >= 0xc0 && c <= 0x24f && c !== 0xd7 && c !== 0xf7) || (c >= 0x370 && c <= 0x52f);
}

/** Start of the local part ending just before `at`, or -1. */
function localStart(text: string, at: number): number {
  let s = at;
  while (s > 0 && at - s < MAX_LOCAL && (isLocalChar(text.charCodeAt(s - 1)) || isWideLetter(text.charCodeAt(s - 1)))) s--;
  while (s < at && text.charCodeAt(s) === 46) s++; // cannot start with '.'
  if (s === at || text.charCodeAt(at - 1) === 46) return -1;
  for (let i = s + 1; i < at; i++) if (text.charCodeAt(i) === 46 && text.charCodeAt(i - 1) === 46) return -1;
  return s;
}

export function findEmails(text: string, out: Collector): void {
  let at = text.indexOf('@');
  while (at !== -1) {
    let next = at + 1;
    const s = localStart(text, at);
    if (s >= 0 && !(at - s === 3 && text.startsWith('git', s))) {
      DOMAIN.lastIndex = at + 1;
      const m = DOMAIN.exec(text);
      const tld = m?.[1];
      if (m !== null && tld !== undefined && TLDS.has(tld.toLowerCase())) {
        out.add('email', s, DOMAIN.lastIndex);
        next = DOMAIN.lastIndex;
      }
    }
    at = text.indexOf('@', next);
  }
}
