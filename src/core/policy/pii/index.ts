// PII and secret detection for the policy layer: which kinds of sensitive data a prompt holds
// (detectPii), where (scanPii), and the prompt with them replaced by typed placeholders
// (redactPii). Pure and synchronous; no prompt text is ever logged or thrown.
//
// Detectors (one file each, its header says exactly what fires and what deliberately does not):
//   email.ts · phone.ts · payment-card.ts · iban.ts · us-ssn.ts · ip-address.ts (IPv4) and
//   ip-address-v6.ts · secret.ts.  Offsets are UTF-16 code units of the scanned string.
//
// Cost (budget: the whole policy step ≤ 30 µs p50 at a 4 KB prompt, ≤ 300 µs at 64 KB; see
// `npm run bench:pii`): no per-character JavaScript over the prompt. Each family is found by
// one native pass that stops only where something could be, and only those spots are checked:
//   - number-shaped detectors share one regex pass (digit-groups.ts) that stops only at runs
//     of ≥ 7 digits-and-separators; cards, SSNs, phones and IPv4 are group-shape checks on them;
//   - e-mail: indexOf('@'); IPv6: indexOf(':'); secrets: indexOf of one character of each
//     prefix ('-', '_', 'J', 'A', 'B') — indexOf of one character is a memchr, 10–100× cheaper
//     than a regex pass on this machine; IBAN: one /[A-Z]{2}\d\d/ pass;
//   - each hit is validated with a sticky regex, a checksum or a table lookup at that spot.
// A disabled detector's pass is skipped entirely (and cannot hide an enabled detector's hit).
// Regexes are module-level with lastIndex reset per scan: scans are synchronous, never nested.
//
// Dependencies — searched first (npm registry, docs, issues); decided:
//   - ibantools (IBAN): kept up to date with the SWIFT IBAN registry — per-country length and
//     BBAN format for ~100 countries (all of SEPA, GB, and non-SEPA registry countries), mod-97
//     and national check digits, zero dependencies, ESM with types. A country table is data we
//     would have to maintain; the library does it better. Called only on candidates.
//   - tlds (e-mail): the IANA root-zone TLD list, updated with it. Checking the last label
//     against it is what keeps `x@w.transpose`, `icon@2x.png` and `obj@v2.js` from being
//     addresses; a list of our own would rot.
//   - Luhn: ten lines in payment-card.ts. Luhn packages (luhn, fast-luhn, luhn-js) take a
//     digits-only string, which would cost an allocation per candidate and buy nothing.
//   - Phone: libphonenumber-js's findPhoneNumbersInText is the reference but measured ~8 ms
//     at 4 KB and ~120 ms at 64 KB here (270× the budget); the structural rules in phone.ts
//     cost nothing on clean text.
//   - Whole-text PII scanners: redact-pii measured ~0.8 ms at 4 KB and ~13 ms at 64 KB and
//     reports plain numbers in clean text (its open issue #39 shows the same);
//     @openredaction/openredaction ~13 ms per 4 KB. Neither fits the hot path.
// No code was copied from any of them.
import { forEachDigitCluster, type DigitGroups } from './digit-groups.js';
import { findEmails } from './email.js';
import { findIbans } from './iban.js';
import { findIpv4 } from './ip-address.js';
import { findIpv6 } from './ip-address-v6.js';
import { findCards } from './payment-card.js';
import { findPhones } from './phone.js';
import { resolveOverlaps } from './resolve.js';
import { findSecrets } from './secret.js';
import { FindingList, type Collector, type PiiDetector, type PiiFinding } from './types.js';
import { findSsns } from './us-ssn.js';

export { PII_DETECTORS, type PiiDetector, type PiiFinding } from './types.js';
export { PII_PLACEHOLDERS, redactPii } from './redact.js';

function visitNumbers(text: string, g: DigitGroups, out: Collector): void {
  if (out.wants('payment_card')) findCards(text, g, out);
  if (out.wants('us_ssn')) findSsns(text, g, out);
  if (out.wants('ip_address')) findIpv4(text, g, out);
  if (out.wants('phone')) findPhones(text, g, out);
}

function collect(text: string, out: Collector): void {
  if (out.wants('payment_card') || out.wants('us_ssn') || out.wants('ip_address') || out.wants('phone')) {
    forEachDigitCluster(text, out, visitNumbers);
  }
  if (out.wants('email')) findEmails(text, out);
  if (out.wants('iban')) findIbans(text, out);
  if (out.wants('ip_address')) findIpv6(text, out);
  if (out.wants('secret')) findSecrets(text, out);
}

/** Every finding in `text` for the enabled detectors (all when omitted), sorted by start, non-overlapping (longer, then more specific, wins). */
export function scanPii(text: string, enabled?: ReadonlySet<PiiDetector>): PiiFinding[] {
  const list = new FindingList(enabled);
  collect(text, list);
  return resolveOverlaps(list.found);
}

/**
 * Which detectors fire in `text`: exactly the detectors of scanPii(text, enabled). It does not
 * stop at a detector's first hit, because overlap resolution may still drop that hit (the
 * digits of an IBAN are not a phone number), and the routing class must not depend on that.
 */
export function detectPii(text: string, enabled?: ReadonlySet<PiiDetector>): ReadonlySet<PiiDetector> {
  const kinds = new Set<PiiDetector>();
  for (const f of scanPii(text, enabled)) kinds.add(f.detector);
  return kinds;
}
