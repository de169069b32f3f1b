// iban — International Bank Account Numbers (ISO 13616).
// Matches: two upper-case letters of a country with an IBAN format, two check digits and the
// BBAN, in electronic form (DE89370400440532013000) or print form in groups of four separated
// by single spaces (DE89 3704 0044 0532 0130 00), standing clear of word characters.
// Validates (ibantools): the country's exact length, its BBAN format, and the ISO 7064 mod-97
// check (remainder 1). A failed national bank/branch check digit (which ibantools also
// knows for some countries) does not reject: a string that passes the ISO checks is an
// account number as far as a privacy policy is concerned.
// Never: a wrong check digit, a wrong length for the country, an unknown country code,
// lower-case IBANs (ISO 13616 writes them upper-case; documented miss), other groupings.
import { getCountrySpecifications, validateIBAN, ValidationErrorsIBAN } from 'ibantools';
import type { Collector } from './types.js';
import { at, isDigit, isUpper, isWord } from './chars.js';

const ANCHOR = /[A-Z]{2}\d\d/g;

/** Country code → IBAN length, for every country ibantools has a format for. */
const LENGTH: ReadonlyMap<string, number> = (() => {
  const m = new Map<string, number>();
  for (const [cc, spec] of Object.entries(getCountrySpecifications())) {
    if (spec.chars !== undefined && spec.chars !== null && typeof spec.bban_regexp === 'string') m.set(cc, spec.chars);
  }
  return m;
})();

export function isValidIban(electronic: string): boolean {
  const r = validateIBAN(electronic);
  return r.valid || (r.errorCodes.length === 1 && r.errorCodes[0] === ValidationErrorsIBAN.WrongAccountBankBranchChecksum);
}

/** The electronic form of the IBAN written from `from` with `length` characters, and where it ends; or undefined. */
function read(text: string, from: number, length: number): { iban: string; end: number } | undefined {
  const print = at(text, from + 4) === 32;
  let iban = '';
  let i = from;
  while (iban.length < length) {
    if (print && iban.length > 0 && iban.length % 4 === 0) {
      if (at(text, i) !== 32) return undefined;
      i++;
    }
    const c = at(text, i);
    if (!isUpper(c) && !isDigit(c)) return undefined;
    iban += text[i];
    i++;
  }
  return isWord(at(text, i)) ? undefined : { iban, end: i };
}

export function findIbans(text: string, out: Collector): void {
  ANCHOR.lastIndex = 0;
  while (ANCHOR.test(text)) {
    const from = ANCHOR.lastIndex - 4;
    if (isWord(at(text, from - 1))) continue;
    const length = LENGTH.get(text.slice(from, from + 2));
    if (length === undefined) continue;
    const found = read(text, from, length);
    if (found === undefined || !isValidIban(found.iban)) continue;
    out.add('iban', from, found.end);
    ANCHOR.lastIndex = found.end;
  }
}
