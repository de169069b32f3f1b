// phone — telephone numbers, by the structure people write them with (not by digit count
// alone, so ordinary numbers stay out).
// Matches:
//  - international: '+' then 7–15 digits (E.164's maximum), one group or groups joined by
//    space, '-', '.' or a parenthesised group; a "(0)" trunk marker is allowed and not
//    counted: +14155550132, +44 20 7946 0958, +44 (0)20 7946 0958, +1 (555) 123-4567,
//    +33 6 12 34 56 78, +49-30-1234567. The '+' must not follow a word character (UTC+05).
//  - parenthesised area code: (2–5 digits) then groups joined by space, '-' or '.', 9–15
//    digits in all: (555) 123-4567, (020) 7946 0958.
//  - national, one separator (space, '-' or '.') used throughout, at the start of a run of
//    digits (not after a space-joined group, so the digits inside "DE88 3704 0044 0532 0130 00"
//    are not a phone): North-American 3-3-4 and 1-3-3-4 (555-123-4567, 1-800-555-0199,
//    555.123.4567), or a trunk-prefixed number — first group starts with 0, has 2–5 digits and
//    is not all zeros, then groups of 2–8 digits, 9–12 digits in all (up to 17 when it starts
//    with the international prefix 00), never the SSN shape 3-2-4 (020 7946 0958,
//    06 12 34 56 78, 030 1234567, 06-12345678, 0044 20 7946 0958).
// Never: digit runs without '+' or separators (IDs; 5551234567 is a documented miss), years,
// prices, dates (2024-05-01, 01.02.2024, 05/06/2024), times, version strings, IPv4, SSNs
// (3-2-4), card groupings (4-4-4-4), numbers glued to words or to longer dashed/dotted numbers.
// Documented misses: 7-digit local numbers without an area code (555-1234) and '/' as a
// separator (030/1234567).
import type { Collector } from './types.js';
import { at, clearRight, isWord } from './chars.js';
import { closesAt, opensAt, SEP_CLOSE, SEP_DASH, SEP_DOT, SEP_OPEN, SEP_OTHER, SEP_SPACE, type DigitGroups } from './digit-groups.js';

const MAX_DIGITS = 15;
const MIN_INTERNATIONAL = 7;
const MIN_PARENTHESISED = 9;

function isTrunkMarker(text: string, g: DigitGroups, j: number, i: number): boolean {
  return j > i && g.sep[j - 1] === SEP_OPEN && g.sep[j] === SEP_CLOSE && g.digits(j) === 1 && text.charCodeAt(g.start[j] ?? 0) === 48;
}

/** Last group of an international number whose '+' precedes group i, or -1. */
function international(text: string, g: DigitGroups, i: number): number {
  let digits = 0;
  let best = -1;
  for (let j = i; j < g.count; j++) {
    if (!isTrunkMarker(text, g, j, i)) digits += g.digits(j);
    if (digits > MAX_DIGITS) break;
    if (j === g.count - 1) {
      if (digits >= MIN_INTERNATIONAL && clearRight(text, g.end[j] ?? 0)) best = j;
      break;
    }
    const s = g.sep[j];
    if (digits >= MIN_INTERNATIONAL && (s === SEP_SPACE || s === SEP_OTHER)) best = j;
    if (s === SEP_OTHER) break;
  }
  return best;
}

/** Last group of "(area) rest" where '(' precedes group i, or -1. */
function parenthesised(text: string, g: DigitGroups, i: number): number {
  const area = g.digits(i);
  if (area < 2 || area > 5 || g.sep[i] !== SEP_CLOSE) return -1;
  let digits = area;
  let best = -1;
  for (let j = i + 1; j < g.count; j++) {
    digits += g.digits(j);
    if (digits > MAX_DIGITS) break;
    if (j === g.count - 1) {
      if (digits >= MIN_PARENTHESISED && clearRight(text, g.end[j] ?? 0)) best = j;
      break;
    }
    const s = g.sep[j];
    if (digits >= MIN_PARENTHESISED && (s === SEP_SPACE || s === SEP_OTHER)) best = j;
    if (s !== SEP_SPACE && s !== SEP_DASH && s !== SEP_DOT) break;
  }
  return best;
}

/** A national number starts a run of digits: not after a space-, dash- or dot-joined group. */
function nationalOpens(text: string, g: DigitGroups, i: number): boolean {
  if (i === 0) return opensAt(text, g, 0);
  const p = g.sep[i - 1];
  return p !== SEP_SPACE && p !== SEP_DASH && p !== SEP_DOT;
}

/** Last group of a national number (one separator throughout) starting at group i, or -1. */
function national(text: string, g: DigitGroups, i: number): number {
  const s = g.sep[i];
  if ((s !== SEP_SPACE && s !== SEP_DASH && s !== SEP_DOT) || !nationalOpens(text, g, i)) return -1;
  // North American 3-3-4, optionally after a "1".
  const k = g.digits(i) === 1 && text.charCodeAt(g.start[i] ?? 0) === 49 ? i + 1 : i;
  if (k + 2 < g.count && g.digits(k) === 3 && g.digits(k + 1) === 3 && g.digits(k + 2) === 4) {
    if (g.sep[k] === s && g.sep[k + 1] === s && closesAt(text, g, k + 2)) return k + 2;
  }
  // Trunk prefix: 0 then 2–5 digits (not all zeros), groups of 2–8, 9–12 digits in all (up
  // to 17 after the international prefix 00); the longest wins; never the SSN shape 3-2-4.
  const first = g.digits(i);
  if (text.charCodeAt(g.start[i] ?? 0) !== 48 || first < 2 || first > 5 || g.value(text, i) === 0) return -1;
  const max = text.charCodeAt((g.start[i] ?? 0) + 1) === 48 ? MAX_DIGITS + 2 : 12;
  let digits = first;
  let best = -1;
  for (let j = i + 1; j < g.count && g.sep[j - 1] === s; j++) {
    const d = g.digits(j);
    if (d < 2 || d > 8) break;
    digits += d;
    if (digits > max) break;
    if (digits >= 9 && closesAt(text, g, j) && !(j === i + 2 && first === 3 && g.digits(i + 1) === 2 && d === 4)) best = j;
  }
  return best;
}

export function findPhones(text: string, g: DigitGroups, out: Collector): void {
  for (let i = 0; i < g.count; i++) {
    const from = g.start[i] ?? 0;
    const opener = g.before(text, i);
    const openerClear = !isWord(at(text, from - 2));
    let last = -1;
    let start = from;
    if (opener === 43) {
      if (openerClear) last = international(text, g, i);
      start = from - 1;
    } else {
      if (opener === 40 && openerClear) last = parenthesised(text, g, i);
      if (last >= 0) start = from - 1;
      else last = national(text, g, i);
    }
    if (last >= 0) {
      out.add('phone', start, g.end[last] ?? 0);
      i = last;
    }
  }
}
