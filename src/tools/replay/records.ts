// Reading a `record:` file back (router/record-line.ts writes it): JSON Lines, one request per
// line, in the order requests ended. Lines are checked with a lenient schema (fields replay
// does not use are ignored; a line that is not a record is counted and skipped), then sorted
// by start time, and each gets its arrival offset: within one recording run the monotonic
// t_ms spacing, across runs the wall-clock ts spacing; idle gaps may be capped (maxGapMs).
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { API_KINDS } from '../../config/names.js';

const hexKey = z.string().regex(/^[0-9a-f]{1,13}$/);
const ms = z.number().min(0);

export const replayLineSchema = z.object({
  v: z.literal(1),
  ts: z.string().refine((s) => Number.isFinite(Date.parse(s)), 'an ISO 8601 time'),
  t_ms: z.number(),
  run: z.string(),
  rid: z.string(),
  api: z.enum(API_KINDS).optional(),
  stream: z.boolean(),
  model: z.string().min(1).optional(),
  chosen: z.string().optional(),
  session: z.string().optional(),
  session_source: z.enum(['x-session-id', 'user', 'inferred']).optional(),
  messages: z.array(z.tuple([z.string(), z.number().int().min(0)])).optional(),
  prompt_chars: z.number().int().min(0).optional(),
  max_tokens: z.number().int().positive().optional(),
  temperature: z.number().optional(),
  tools: z.boolean().optional(),
  json_mode: z.boolean().optional(),
  block_chars: z.number().int().positive().optional(),
  blocks: z.array(hexKey).optional(),
  tail: hexKey.optional(),
  decision: z.object({ affinity: z.string() }).optional(),
  outcome: z.object({ status: z.number().int().optional(), ttfb_ms: ms.optional(), total_ms: ms.optional() }),
  refused: z.object({ code: z.string(), status: z.number().int() }).optional(),
  usage: z.object({ prompt: z.number(), completion: z.number(), cached: z.number().optional(), source: z.string().optional() }).optional(),
  body: z.record(z.string(), z.unknown()).optional(),
});

export type ReplayLine = z.infer<typeof replayLineSchema>;

export interface ReplayRecord {
  readonly line: ReplayLine;
  /** ms after the first record's start, before --speed. */
  readonly atMs: number;
  /** Position in the replay order. */
  readonly index: number;
}

export interface LoadedRecords {
  /** Replayable records (an API and a shape or a body), in start order. */
  readonly records: readonly ReplayRecord[];
  readonly read: number;
  readonly invalid: number;
  /** Refused before kvfleet knew the request's shape (e.g. invalid JSON): nothing to send. */
  readonly noShape: number;
}

/** Every line of the files (in the order given); invalid lines counted. */
export async function readLines(files: readonly string[]): Promise<{ lines: ReplayLine[]; read: number; invalid: number }> {
  const lines: ReplayLine[] = [];
  let read = 0;
  let invalid = 0;
  for (const f of files) {
    const rl = createInterface({ input: createReadStream(f, 'utf8'), crlfDelay: Infinity });
    for await (const text of rl) {
      if (text.trim() === '') continue;
      read++;
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        invalid++;
        continue;
      }
      const p = replayLineSchema.safeParse(json);
      if (p.success) lines.push(p.data);
      else invalid++;
    }
  }
  return { lines, read, invalid };
}

export const replayable = (l: ReplayLine): boolean => l.api !== undefined && (l.body !== undefined || l.messages !== undefined);

/** Start order and arrival offsets (ms, before --speed); `limit` keeps the earliest. */
export function schedule(lines: readonly ReplayLine[], o: { limit?: number | undefined; maxGapMs?: number | undefined } = {}): ReplayRecord[] {
  const sorted = lines
    .map((line) => ({ line, wall: Date.parse(line.ts) }))
    .sort((a, b) => a.wall - b.wall || (a.line.run === b.line.run ? a.line.t_ms - b.line.t_ms : 0));
  const kept = o.limit !== undefined ? sorted.slice(0, o.limit) : sorted;
  const out: ReplayRecord[] = [];
  let at = 0;
  for (let i = 0; i < kept.length; i++) {
    const cur = kept[i] as (typeof kept)[number];
    if (i > 0) {
      const prev = kept[i - 1] as (typeof kept)[number];
      const gap = prev.line.run === cur.line.run ? cur.line.t_ms - prev.line.t_ms : cur.wall - prev.wall;
      at += Math.min(Math.max(0, gap), o.maxGapMs ?? Infinity);
    }
    out.push({ line: cur.line, atMs: at, index: i });
  }
  return out;
}

export async function loadRecords(files: readonly string[], o: { limit?: number | undefined; maxGapMs?: number | undefined } = {}): Promise<LoadedRecords> {
  const { lines, read, invalid } = await readLines(files);
  const ok = lines.filter(replayable);
  return { records: schedule(ok, o), read, invalid, noShape: lines.length - ok.length };
}
