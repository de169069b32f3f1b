// us_ssn — US Social Security numbers.
// Matches: AAA-GG-SSSS or AAA GG SSSS (the same separator twice), standing clear of words and
// of longer dashed or dotted numbers; a bare 9-digit run only when "SSN", "SS#" or "social
// security" occurs in the 48 code units before it (a bare run alone is just an ID).
// Validates: the ranges the SSA never issues are excluded — area 000, 666 and 900–999, group
// 00, serial 0000.
// Never: 123-45-6789-0 and other numbers with more parts, dates, 9-digit IDs without the
// context word, ITIN-like 9xx areas.
import type { Collector } from './types.js';
import { closesAt, opensAt, SEP_DASH, SEP_SPACE, type DigitGroups } from './digit-groups.js';

const CONTEXT = /\b(?:ssn|ss#|social\s+security)/i;
const CONTEXT_WINDOW = 48;

export function ssnValid(area: number, group: number, serial: number): boolean {
  return area !== 0 && area !== 666 && area < 900 && group !== 0 && serial !== 0;
}

function context(text: string, from: number): boolean {
  return CONTEXT.test(text.slice(Math.max(0, from - CONTEXT_WINDOW), from));
}

export function findSsns(text: string, g: DigitGroups, out: Collector): void {
  for (let i = 0; i < g.count; i++) {
    const d = g.digits(i);
    if (d === 9) {
      if (!opensAt(text, g, i) || !closesAt(text, g, i)) continue;
      const v = g.value(text, i);
      const from = g.start[i] ?? 0;
      if (ssnValid(Math.floor(v / 1e6), Math.floor(v / 1e4) % 100, v % 1e4) && context(text, from)) {
        out.add('us_ssn', from, g.end[i] ?? 0);
      }
      continue;
    }
    if (d !== 3 || i + 2 >= g.count || g.digits(i + 1) !== 2 || g.digits(i + 2) !== 4) continue;
    const sep = g.sep[i];
    if ((sep !== SEP_DASH && sep !== SEP_SPACE) || g.sep[i + 1] !== sep) continue;
    if (!opensAt(text, g, i) || !closesAt(text, g, i + 2)) continue;
    if (!ssnValid(g.value(text, i), g.value(text, i + 1), g.value(text, i + 2))) continue;
    out.add('us_ssn', g.start[i] ?? 0, g.end[i + 2] ?? 0);
    i += 2;
  }
}
