// A small, careful parser for the Prometheus text exposition format (0.0.4), the
// format every LLM engine's /metrics speaks. kvfleet needs a handful of gauges
// from each scrape, so the parser takes a `want` predicate on the metric name and
// skips every other line without looking at its labels: a vLLM scrape is mostly
// histogram buckets kvfleet never reads.
//
// Why not a library: the npm candidate (parse-prometheus-text-format) has not been
// released since 2019, ships no types, groups histograms (work we do not need) and
// throws on the first malformed line. Here a malformed line is skipped and
// counted, so one odd exporter line never blinds kvfleet to a replica's load.

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface ParseResult {
  readonly samples: Sample[];
  /** Lines that looked like samples of a wanted metric but could not be parsed. */
  readonly malformed: number;
}

const NAME_START = /[a-zA-Z_:]/;
const NAME_CHAR = /[a-zA-Z0-9_:]/;

/** [a-zA-Z0-9_:] by char code (the hot loop of skipping unwanted lines). */
function isNameChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 58) || c === 95;
}

/** Go's strconv.ParseFloat spellings that Prometheus emits, plus plain numbers. */
export function parseValue(s: string): number | undefined {
  switch (s) {
    case 'NaN':
      return Number.NaN;
    case '+Inf':
    case 'Inf':
      return Number.POSITIVE_INFINITY;
    case '-Inf':
      return Number.NEGATIVE_INFINITY;
  }
  if (!/^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/.test(s)) return undefined;
  return Number(s);
}

/**
 * Parse `text`, keeping only samples whose metric name passes `want`.
 * Lines: `# HELP …`, `# TYPE …`, comments, blanks (ignored) and
 * `name{label="value",…} value [timestamp]`.
 */
export function parsePromText(text: string, want: (name: string) => boolean = () => true): ParseResult {
  const samples: Sample[] = [];
  let malformed = 0;
  let pos = 0;
  const n = text.length;
  while (pos < n) {
    let end = text.indexOf('\n', pos);
    if (end === -1) end = n;
    const lineStart = pos;
    pos = end + 1;
    // Most lines are comments or metrics kvfleet does not read: decide on the name
    // alone, without slicing the line.
    let i = lineStart;
    while (i < end && (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9)) i++;
    if (i >= end || text.charCodeAt(i) === 35 /* # */ || text.charCodeAt(i) === 13) continue;
    let nameEnd = i;
    while (nameEnd < end && isNameChar(text.charCodeAt(nameEnd))) nameEnd++;
    if (nameEnd > i && !want(text.slice(i, nameEnd))) continue;
    const r = parseLine(text.slice(i, text.charCodeAt(end - 1) === 13 ? end - 1 : end), want);
    if (r === 'skip') continue;
    if (r === undefined) malformed++;
    else samples.push(r);
  }
  return { samples, malformed };
}

function parseLine(line: string, want: (name: string) => boolean): Sample | undefined | 'skip' {
  let i = 0;
  if (!NAME_START.test(line[0] ?? '')) return undefined;
  while (i < line.length && NAME_CHAR.test(line[i] as string)) i++;
  const name = line.slice(0, i);
  if (!want(name)) return 'skip';
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (line[i] === ' ' || line[i] === '\t') i++;
      if (line[i] === '}') {
        i++;
        break;
      }
      const ls = i;
      if (!/[a-zA-Z_]/.test(line[i] ?? '')) return undefined;
      while (i < line.length && /[a-zA-Z0-9_]/.test(line[i] as string)) i++;
      const lname = line.slice(ls, i);
      while (line[i] === ' ' || line[i] === '\t') i++;
      if (line[i] !== '=') return undefined;
      i++;
      while (line[i] === ' ' || line[i] === '\t') i++;
      if (line[i] !== '"') return undefined;
      i++;
      let value = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) return undefined;
        if (c === '"') {
          i++;
          break;
        }
        if (c === '\\') {
          const e = line[i + 1];
          if (e === 'n') value += '\n';
          else if (e === '\\') value += '\\';
          else if (e === '"') value += '"';
          else if (e === undefined) return undefined;
          else value += `\\${e}`;
          i += 2;
          continue;
        }
        value += c;
        i++;
      }
      labels[lname] = value;
      while (line[i] === ' ' || line[i] === '\t') i++;
      if (line[i] === ',') {
        i++;
        continue;
      }
      if (line[i] === '}') {
        i++;
        break;
      }
      return undefined;
    }
  }
  const rest = line
    .slice(i)
    .trim()
    .split(/[ \t]+/);
  if (rest.length < 1 || rest.length > 2 || rest[0] === '') return undefined;
  const value = parseValue(rest[0] as string);
  if (value === undefined) return undefined;
  if (rest.length === 2 && !/^-?\d+$/.test(rest[1] as string)) return undefined;
  return { name, labels, value };
}
