// payment_card — card numbers (ISO/IEC 7812 primary account numbers).
// Matches: one unbroken run of 13–19 digits, or a printed grouping with one separator used
// throughout (space, no-break space or '-'): groups of four with a shorter last group, for
// 13, 15, 16 or 19 digits (4-4-4-1, 4-4-4-3, 4-4-4-4, 4-4-4-4-3: Visa, Mastercard, Discover,
// JCB, UnionPay), 4-6-5 (Amex) or 4-6-4 (Diners). Of several valid readings the longest wins
// (a 19-digit card over its first 16), so a number after a card is not taken in unless it
// completes a printed card grouping.
// Validates: the Luhn (mod 10) check digit, and a plausible issuer prefix — 2200–2204 (Mir),
// 2221–2720 (Mastercard), 300–305/36/38/39 (Diners), 34/37 (Amex), 3528–3589 (JCB), 4 (Visa),
// 5 (Mastercard, Maestro), 6 (Discover, UnionPay, Maestro, RuPay).
// Never: a digit run longer than 19 (an ID: no card is cut out of it), numbers glued to a
// word, '.' or '-' on either side, Luhn-invalid numbers, numbers starting 0, 1, 7, 8, 9
// (millisecond timestamps and most IDs).
// Luhn is ten lines here; a package for it would do no better (see index.ts).
import type { Collector } from './types.js';
import { closesAt, opensAt, SEP_DASH, SEP_SPACE, type DigitGroups } from './digit-groups.js';
import { isDigit } from './chars.js';

/** Luhn over the digits of text[from, to), skipping separators. */
export function luhnValid(text: string, from: number, to: number): boolean {
  let sum = 0;
  let double = false;
  for (let i = to - 1; i >= from; i--) {
    const c = text.charCodeAt(i);
    if (!isDigit(c)) continue;
    let d = c - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/** The first four digits of the number (its first group holds at least four). */
function iin4(text: string, from: number): number {
  return (
    (text.charCodeAt(from) - 48) * 1000 + (text.charCodeAt(from + 1) - 48) * 100 + (text.charCodeAt(from + 2) - 48) * 10 + (text.charCodeAt(from + 3) - 48)
  );
}

export function plausibleIin(p: number): boolean {
  const d1 = Math.floor(p / 1000);
  const d2 = Math.floor(p / 100);
  const d3 = Math.floor(p / 10);
  if (d1 === 4 || d1 === 5 || d1 === 6) return true;
  if (d1 === 2) return (p >= 2200 && p <= 2204) || (p >= 2221 && p <= 2720);
  if (d1 === 3) return d2 === 34 || d2 === 37 || d2 === 36 || d2 === 38 || d2 === 39 || (d3 >= 300 && d3 <= 305) || (p >= 3528 && p <= 3589);
  return false;
}

function valid(text: string, from: number, to: number): boolean {
  return plausibleIin(iin4(text, from)) && luhnValid(text, from, to);
}

/** Last group index of the longest valid grouped card starting at group i, or -1. */
function grouped(text: string, g: DigitGroups, i: number): number {
  const sep = g.sep[i];
  if (g.digits(i) !== 4 || (sep !== SEP_SPACE && sep !== SEP_DASH)) return -1;
  const from = g.start[i] ?? 0;
  // 4-6-5 (Amex) and 4-6-4 (Diners)
  if (i + 2 < g.count && g.digits(i + 1) === 6 && g.sep[i + 1] === sep) {
    const last = g.digits(i + 2);
    if ((last === 5 || last === 4) && closesAt(text, g, i + 2) && valid(text, from, g.end[i + 2] ?? 0)) return i + 2;
    return -1;
  }
  // 4-4-…-(1..4): collect the candidate ends, try the longest first.
  let best = -1;
  let digits = 4;
  for (let j = i + 1; j < g.count && g.sep[j - 1] === sep; j++) {
    const d = g.digits(j);
    if (d < 1 || d > 4) break;
    digits += d;
    if (digits > 19) break;
    const printed = digits === 13 || digits === 15 || digits === 16 || digits === 19;
    if (printed && closesAt(text, g, j) && valid(text, from, g.end[j] ?? 0)) best = j;
    if (d < 4) break;
  }
  return best;
}

export function findCards(text: string, g: DigitGroups, out: Collector): void {
  for (let i = 0; i < g.count; i++) {
    if (!opensAt(text, g, i)) continue;
    const d = g.digits(i);
    const from = g.start[i] ?? 0;
    if (d >= 13 && d <= 19) {
      if (closesAt(text, g, i) && valid(text, from, g.end[i] ?? 0)) out.add('payment_card', from, g.end[i] ?? 0);
      continue;
    }
    const last = grouped(text, g, i);
    if (last >= 0) {
      out.add('payment_card', from, g.end[last] ?? 0);
      i = last;
    }
  }
}
