// Fixed-width text tables for the terminal (kvfleet fleet, kvfleet health). Text from the
// fleet file or a server is printed with its control characters replaced, so a name cannot
// move the cursor or recolour the terminal.

export type Align = 'left' | 'right';

/** Control characters (C0, DEL, C1) shown as `?`. */
export function printable(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    out += c < 0x20 || (c >= 0x7f && c < 0xa0) ? '?' : ch;
  }
  return out;
}

/** Columns padded to their widest cell, two spaces apart; `align[i]` per column (left by default). No trailing spaces. */
export function textTable(head: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[] = []): string[] {
  const all = [head, ...rows].map((r) => head.map((_, i) => printable(r[i] ?? '')));
  const width = head.map((_, i) => Math.max(...all.map((r) => [...(r[i] ?? '')].length)));
  const pad = (s: string, i: number) => {
    const n = (width[i] ?? 0) - [...s].length;
    return align[i] === 'right' ? ' '.repeat(n) + s : s + ' '.repeat(n);
  };
  return all.map((r) => r.map(pad).join('  ').trimEnd());
}
