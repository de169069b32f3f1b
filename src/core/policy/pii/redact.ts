// Redaction: each finding's text replaced by a typed placeholder, everything else kept as is.
import type { PiiDetector, PiiFinding } from './types.js';

export const PII_PLACEHOLDERS: Readonly<Record<PiiDetector, string>> = {
  email: '[REDACTED_EMAIL]',
  phone: '[REDACTED_PHONE]',
  payment_card: '[REDACTED_PAYMENT_CARD]',
  iban: '[REDACTED_IBAN]',
  us_ssn: '[REDACTED_US_SSN]',
  ip_address: '[REDACTED_IP_ADDRESS]',
  secret: '[REDACTED_SECRET]',
};

/**
 * `text` with each finding replaced by its placeholder (`[REDACTED_EMAIL]`, …). Findings may
 * come in any order; overlapping ones are merged into the first one's placeholder, so no
 * character of either survives. Offsets outside `text` are a caller bug: RangeError.
 */
export function redactPii(text: string, findings: readonly PiiFinding[]): string {
  if (findings.length === 0) return text;
  const sorted = [...findings].sort((a, b) => a.start - b.start || b.end - a.end);
  let out = '';
  let pos = 0;
  for (const f of sorted) {
    if (f.start < 0 || f.end > text.length || f.start > f.end) throw new RangeError(`finding ${f.detector} [${f.start}, ${f.end}) is outside the text`);
    if (f.start < pos) {
      pos = Math.max(pos, f.end);
      continue;
    }
    out += text.slice(pos, f.start) + PII_PLACEHOLDERS[f.detector];
    pos = f.end;
  }
  return out + text.slice(pos);
}
