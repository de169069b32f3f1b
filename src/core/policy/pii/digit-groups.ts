// The one pass that feeds the number-shaped detectors (payment cards, US SSNs, phone numbers,
// IPv4). A cluster is a run of ASCII digits and the separators people write numbers with —
// space, no-break space, '-', '.', '(' and ')' — that starts and ends with a digit and is at
// least 7 code units long (the shortest thing those detectors report is `1.2.3.4`). The
// regex engine finds clusters natively, so short numbers (years, prices, counters) never
// reach JavaScript. Each cluster is split into digit groups plus the separator between
// consecutive groups; detectors then match group shapes (4-4-4-4, 3-2-4, 3-3-4, ...) on these
// reused arrays without further regexes or allocations.
import { at, clearLeft, clearRight, isDigit } from './chars.js';

const CLUSTER = /(?<![0-9A-Za-z_])\d[\d ().\u00a0-]{5,}\d/g;

export const SEP_OTHER = 0;
/** One space or no-break space. */
export const SEP_SPACE = 1;
export const SEP_DASH = 2;
export const SEP_DOT = 3;
/** `(` or ` (`: the next group is parenthesised. */
export const SEP_OPEN = 4;
/** `)` or `) `: the previous group was parenthesised. */
export const SEP_CLOSE = 5;

export class DigitGroups {
  count = 0;
  /** Absolute offsets of group k's first digit and one past its last digit. */
  readonly start: number[] = [];
  readonly end: number[] = [];
  /** sep[k]: what joins group k to group k + 1. */
  readonly sep: number[] = [];

  digits(k: number): number {
    return (this.end[k] ?? 0) - (this.start[k] ?? 0);
  }
  /** Group k read as a number (groups passed here are at most a few digits long). */
  value(text: string, k: number): number {
    let v = 0;
    for (let i = this.start[k] ?? 0, e = this.end[k] ?? 0; i < e; i++) v = v * 10 + text.charCodeAt(i) - 48;
    return v;
  }
  /** The code unit just before group k's first digit (a `+` or `(` that may open the number). */
  before(text: string, k: number): number {
    return at(text, (this.start[k] ?? 0) - 1);
  }
}

function separator(text: string, from: number, to: number): number {
  const a = text.charCodeAt(from);
  if (to - from === 1) {
    if (a === 32 || a === 0xa0) return SEP_SPACE;
    if (a === 45) return SEP_DASH;
    if (a === 46) return SEP_DOT;
    if (a === 40) return SEP_OPEN;
    if (a === 41) return SEP_CLOSE;
    return SEP_OTHER;
  }
  if (to - from === 2) {
    const b = text.charCodeAt(from + 1);
    if (a === 32 && b === 40) return SEP_OPEN;
    if (a === 41 && b === 32) return SEP_CLOSE;
  }
  return SEP_OTHER;
}

function split(text: string, from: number, to: number, g: DigitGroups): void {
  let k = 0;
  let i = from;
  while (i < to) {
    const s = i;
    while (i < to && isDigit(text.charCodeAt(i))) i++;
    g.start[k] = s;
    g.end[k] = i;
    if (i >= to) {
      g.sep[k] = SEP_OTHER;
      k++;
      break;
    }
    const sepFrom = i;
    while (i < to && !isDigit(text.charCodeAt(i))) i++;
    g.sep[k] = separator(text, sepFrom, i);
    k++;
  }
  g.count = k;
}

const groups = new DigitGroups();

/** Calls `visit` once per digit cluster of `text`, with the cluster's groups (reused between calls). */
export function forEachDigitCluster<T>(text: string, ctx: T, visit: (text: string, g: DigitGroups, ctx: T) => void): void {
  CLUSTER.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = CLUSTER.exec(text)) !== null) {
    split(text, m.index, m.index + m[0].length, groups);
    visit(text, groups, ctx);
  }
}

/** Group k may open a number: the cluster's first group standing clear on the left, or after a space or parenthesis. */
export function opensAt(text: string, g: DigitGroups, k: number): boolean {
  if (k === 0) return clearLeft(text, g.start[0] ?? 0);
  const s = g.sep[k - 1];
  return s !== SEP_DASH && s !== SEP_DOT;
}

/** Group k may close a number: the cluster's last group standing clear on the right, or before a space or parenthesis. */
export function closesAt(text: string, g: DigitGroups, k: number): boolean {
  if (k === g.count - 1) return clearRight(text, g.end[k] ?? 0);
  const s = g.sep[k];
  return s !== SEP_DASH && s !== SEP_DOT;
}
