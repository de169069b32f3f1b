// Character tests on UTF-16 code units, shared by the detectors. Plain comparisons on
// charCodeAt: no regex, no allocation. "Word" means ASCII [A-Za-z0-9_].

export function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

export function isAsciiLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

export function isUpper(c: number): boolean {
  return c >= 65 && c <= 90;
}

export function isWord(c: number): boolean {
  return isDigit(c) || isAsciiLetter(c) || c === 95;
}

export function isHex(c: number): boolean {
  return isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** Code unit at i, or -1 outside the string. */
export function at(text: string, i: number): number {
  return i >= 0 && i < text.length ? text.charCodeAt(i) : -1;
}

/**
 * True when a number starting at `start` stands on its own on the left: the code unit before
 * it is not a word character, and not a `.` or `-` that glues it to a preceding token
 * (`v1.2.3.4`, `x-123-45-6789`, `1.2.3.4.5`).
 */
export function clearLeft(text: string, start: number): boolean {
  const c = at(text, start - 1);
  return c === -1 || !(isWord(c) || c === 46 || c === 45);
}

/**
 * True when a number ending at `end` (exclusive) stands on its own on the right: next is not
 * a word character, and not a `.`/`-` followed by a digit (a longer dotted or dashed number).
 * A sentence-ending `.` is fine.
 */
export function clearRight(text: string, end: number): boolean {
  const c = at(text, end);
  if (c === -1) return true;
  if (isWord(c)) return false;
  if (c === 46 || c === 45) return !isDigit(at(text, end + 1));
  return true;
}
