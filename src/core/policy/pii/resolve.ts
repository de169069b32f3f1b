// Overlap resolution: detectors report independently, so the same characters can be hit twice
// (the digits of an IBAN look like a phone number; a JWT follows "Bearer"). The result is
// sorted by start and non-overlapping: of two overlapping findings the longer wins, and on
// equal length the more specific detector (order below).
import type { PiiDetector, PiiFinding } from './types.js';

const SPECIFICITY: Readonly<Record<PiiDetector, number>> = {
  secret: 0,
  payment_card: 1,
  iban: 2,
  us_ssn: 3,
  email: 4,
  ip_address: 5,
  phone: 6,
};

function beats(a: PiiFinding, b: PiiFinding): boolean {
  const la = a.end - a.start;
  const lb = b.end - b.start;
  return la > lb || (la === lb && SPECIFICITY[a.detector] < SPECIFICITY[b.detector]);
}

export function resolveOverlaps(found: PiiFinding[]): PiiFinding[] {
  if (found.length < 2) return found;
  found.sort((a, b) => a.start - b.start || b.end - a.end || SPECIFICITY[a.detector] - SPECIFICITY[b.detector]);
  const kept: PiiFinding[] = [];
  let last: PiiFinding | undefined;
  for (const f of found) {
    if (last === undefined || f.start >= last.end) {
      kept.push(f);
      last = f;
    } else if (beats(f, last)) {
      kept[kept.length - 1] = f;
      last = f;
    }
  }
  return kept;
}
