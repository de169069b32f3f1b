// Rendering of benchmark results: fixed-width text tables for the terminal, markdown tables
// for docs/benchmarks.md, and small dependency-free SVG bar charts. Numbers are printed from
// the result objects only (never typed by hand).

export type Cell = string | number;

export function fmt(v: number, digits = 1): string {
  if (!Number.isFinite(v)) return '–';
  return v.toFixed(digits);
}

export function pct(v: number): string {
  return Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : '–';
}

export function textTable(head: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const all = [head, ...rows].map((r) => r.map(String));
  const w = head.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i] ?? 0) : c.padStart(w[i] ?? 0))).join('  ');
  return [line(all[0] ?? []), w.map((n) => '-'.repeat(n)).join('  '), ...all.slice(1).map(line)].join('\n');
}

export function markdownTable(head: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const esc = (c: Cell) => String(c).replaceAll('|', '\\|');
  return [
    `| ${head.map(esc).join(' | ')} |`,
    `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

export interface BarSeries {
  readonly label: string;
  readonly values: readonly number[];
}

const COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1'];

function escXml(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

/**
 * Grouped horizontal bar chart: one group per category (policy), one bar per series
 * (e.g. TTFT p50 / p90). `highlight` marks a category (kvfleet) in bold.
 */
export function barChartSvg(title: string, unit: string, categories: readonly string[], series: readonly BarSeries[], highlight?: string): string {
  const barH = 14;
  const gap = 10;
  const left = 170;
  const width = 720;
  const plotW = width - left - 80;
  const top = 44;
  const groupH = series.length * barH + gap;
  const height = top + categories.length * groupH + 40;
  let max = 0;
  for (const s of series) for (const v of s.values) if (Number.isFinite(v) && v > max) max = v;
  if (max <= 0) max = 1;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  parts.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${escXml(title)}</text>`);
  series.forEach((s, k) => {
    const x = left + k * 130;
    parts.push(`<rect x="${x}" y="28" width="10" height="10" fill="${COLORS[k % COLORS.length]}"/><text x="${x + 14}" y="37">${escXml(s.label)}</text>`);
  });
  categories.forEach((c, i) => {
    const y0 = top + i * groupH;
    const bold = c === highlight ? ' font-weight="bold"' : '';
    parts.push(`<text x="${left - 8}" y="${y0 + (series.length * barH) / 2 + 4}" text-anchor="end"${bold}>${escXml(c)}</text>`);
    series.forEach((s, k) => {
      const v = s.values[i] ?? 0;
      const w = Number.isFinite(v) ? Math.max(1, (v / max) * plotW) : 0;
      const y = y0 + k * barH;
      parts.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH - 2}" fill="${COLORS[k % COLORS.length]}"/>`);
      parts.push(
        `<text x="${left + w + 4}" y="${y + barH - 4}" font-size="10">${escXml(Number.isFinite(v) ? (v >= 100 ? v.toFixed(0) : v.toFixed(v >= 10 ? 1 : 2)) : '–')}${escXml(unit)}</text>`,
      );
    });
  });
  parts.push(`<line x1="${left}" y1="${top - 4}" x2="${left}" y2="${height - 30}" stroke="#888"/>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
