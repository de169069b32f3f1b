// One recorded request (a line of the `record:` JSON Lines file) from the Router's report at
// the request's end. Without include_prompts the line holds no prompt text: the request's
// shape (API, models, stream, message roles and sizes, max_tokens, temperature), its block
// keys — the unsalted chain keys of the fingerprint (core/fingerprint.ts) that kvfleet already
// computed for cache affinity, so two recorded requests that shared a prefix share their
// leading keys — the decision and the outcome. `kvfleet replay` (tools/replay/) reads it back.
// A 52-bit block key is a hash of prompt text: it tells which requests shared text, not the
// text; but someone who can guess a whole block can check the guess against it.
import type { ApiKind } from '../config/names.js';
import { blockChars, fingerprint, modelSalt } from '../core/fingerprint.js';
import { hashKey, KEY_SPACE } from '../core/hash.js';
import type { PromptSegment } from '../request/types.js';
import type { Decision } from '../core/types.js';
import type { RequestReport } from './report.js';
import type { Admission } from './routed.js';

export const RECORD_VERSION = 1;

/** More messages than this are folded into the last entry (its role, their characters). */
export const MAX_RECORDED_MESSAGES = 2048;

export interface RecordedUsage {
  readonly prompt: number;
  readonly completion: number;
  /** Cached prompt tokens, when the engine reported them. */
  readonly cached?: number | undefined;
  /** reported: the response's usage object; counted: prompt estimate + one token per chunk. */
  readonly source: 'reported' | 'counted';
}

/** One line of the file. Optional fields are left out when unknown. */
export interface RecordLine {
  readonly v: typeof RECORD_VERSION;
  /** When kvfleet started on the request (wall clock, ISO 8601, ms). */
  readonly ts: string;
  /** ms from the start of this recording run (monotonic): exact spacing within a run. */
  readonly t_ms: number;
  /** This recording run (a kvfleet start or a reload that opened the file). */
  readonly run: string;
  readonly rid: string;
  readonly api?: ApiKind;
  readonly stream: boolean;
  /** The model as the client named it (a name, an alias, `auto`). */
  readonly model?: string;
  /** The fleet model chosen. */
  readonly chosen?: string;
  readonly tenant?: string;
  /**
   * xxh64 of the session key (never the id itself) and where it came from: x-session-id, the
   * body's user, or inferred (a conversation kvfleet joined or started without an id).
   */
  readonly session?: string;
  readonly session_source?: 'x-session-id' | 'user' | 'inferred';
  /** [role, characters] per message (chat) or prompt string (completion, embedding input). */
  readonly messages?: ReadonlyArray<readonly [string, number]>;
  readonly prompt_chars?: number;
  /** kvfleet's estimate (characters / chars_per_token, role markers included). */
  readonly prompt_tokens?: number;
  readonly max_tokens?: number;
  readonly temperature?: number;
  /** The request had tools, asked for JSON output, carried images (present only when true). */
  readonly tools?: true;
  readonly json_mode?: true;
  readonly images?: true;
  /** Characters per block of the render the keys were hashed from (affinity). */
  readonly block_chars?: number;
  /** Unsalted chain keys of the full blocks (13 hex digits each), at most affinity.max_blocks. */
  readonly blocks?: readonly string[];
  /** Key of the render after the last full block, chained on the last block key. */
  readonly tail?: string;
  readonly decision?: {
    readonly endpoint: string;
    readonly endpoints: readonly string[];
    readonly strategy: string;
    readonly reasons: readonly string[];
    readonly affinity: string;
    readonly score: number;
    readonly priority: string;
    readonly decision_us?: number;
  };
  readonly outcome: {
    readonly status?: number;
    readonly served?: string;
    /** Request start → first upstream byte (Envoy), ms. */
    readonly ttfb_ms?: number;
    /** Request start → last byte to the client (Envoy), ms. */
    readonly total_ms?: number;
  };
  /** kvfleet answered itself with this error (the request never reached a replica). */
  readonly refused?: { readonly code: string; readonly status: number };
  readonly usage?: RecordedUsage;
  /** The request body as routed (after redaction), only with include_prompts, never for a refused request. */
  readonly body?: Readonly<Record<string, unknown>>;
}

export interface LineClock {
  /** Wall-clock ms now. */
  readonly wall: number;
  /** Monotonic ms now (the Router's clock). */
  readonly mono: number;
  /** Monotonic ms when the run started. */
  readonly runStart: number;
  readonly run: string;
}

/** 13 hex digits of a 52-bit key (two small integers: V8 formats a large double in base 16 slowly). */
export function hex(k: number): string {
  const hi = Math.floor(k / 0x10000000);
  return hi.toString(16).padStart(6, '0') + (k - hi * 0x10000000).toString(16).padStart(7, '0');
}
const round1 = (x: number): number => Math.round(x * 10) / 10;

/** The render (core/fingerprint.ts renderPrompt) from character `start` on, without building what comes before. */
export function renderFrom(segments: readonly PromptSegment[], start: number): string {
  let pos = 0;
  let out = '';
  for (const s of segments) {
    const marker = `<|${s.role}|>\n`;
    const len = marker.length + s.text.length + 1;
    if (pos + len > start) {
      const off = Math.max(0, start - pos);
      if (off < marker.length) out += marker.slice(off);
      out += s.text.slice(Math.max(0, off - marker.length));
      out += '\n';
    }
    pos += len;
  }
  return out;
}

function messagesOf(segments: readonly PromptSegment[]): Array<readonly [string, number]> {
  const out: Array<readonly [string, number]> = [];
  for (let i = 0; i < segments.length && i < MAX_RECORDED_MESSAGES - 1; i++) {
    const s = segments[i] as PromptSegment;
    out.push([s.role, s.text.length]);
  }
  if (segments.length >= MAX_RECORDED_MESSAGES) {
    const rest = segments.slice(MAX_RECORDED_MESSAGES - 1);
    out.push([(rest[0] as PromptSegment).role, rest.reduce((n, s) => n + s.text.length, 0)]);
  }
  return out;
}

type Shape = Pick<
  RecordLine,
  | 'model'
  | 'session'
  | 'session_source'
  | 'messages'
  | 'prompt_chars'
  | 'prompt_tokens'
  | 'max_tokens'
  | 'temperature'
  | 'tools'
  | 'json_mode'
  | 'images'
  | 'block_chars'
  | 'blocks'
  | 'tail'
>;

/** What kvfleet knew of the request: its shape, block keys and session (no text). */
function shapeOf(a: Admission, d: Decision | undefined): Shape {
  const input = a.input;
  const aff = a.fleet.affinity;
  const bc = blockChars(aff);
  // The chain keys: the decision's salted keys less the chosen model's salt, or (refused
  // before a decision) the fingerprint computed here.
  let keys: number[];
  let promptTokens: number;
  if (d !== undefined) {
    const salt = modelSalt(d.model);
    keys = Array.from(d.learn.keys, (k) => (k >= salt ? k - salt : k - salt + KEY_SPACE));
    promptTokens = d.prompt.tokens;
  } else {
    const fp = fingerprint(input.segments, input.promptChars, aff);
    keys = Array.from(fp.chain);
    promptTokens = fp.promptTokens;
  }
  const last = keys[keys.length - 1];
  const sessionKey = d?.learn.sessionKey ?? (a.meta.sessionId !== undefined ? `s:${a.meta.sessionId}` : undefined);
  const t = input.body['temperature'];
  return {
    model: input.model,
    session: sessionKey !== undefined ? hex(hashKey(sessionKey)) : undefined,
    // With a decision and no session used, the key is the conversation this prompt starts (infer_sessions).
    session_source: sessionKey === undefined ? undefined : d !== undefined ? (d.session?.source ?? 'inferred') : 'x-session-id',
    messages: messagesOf(input.segments),
    prompt_chars: input.promptChars,
    prompt_tokens: promptTokens,
    max_tokens: input.maxOutputTokens,
    temperature: typeof t === 'number' ? t : undefined,
    tools: input.hasTools ? true : undefined,
    json_mode: input.jsonMode ? true : undefined,
    images: input.hasImages ? true : undefined,
    block_chars: bc,
    blocks: keys.map(hex),
    tail: hex(hashKey(renderFrom(input.segments, keys.length * bc), last !== undefined ? BigInt(last) : 0n)),
  };
}

/** The line for one report; undefined fields are left out when serialised. */
export function recordLine(r: RequestReport, clock: LineClock, includePrompts: boolean): RecordLine {
  const a = r.admission;
  const d = r.decision;
  const startMono = a !== undefined ? Math.min(a.startedAt, clock.mono) : clock.mono;
  const shape = a !== undefined ? shapeOf(a, d) : undefined;
  return {
    v: RECORD_VERSION,
    ts: new Date(clock.wall - (clock.mono - startMono)).toISOString(),
    t_ms: round1(startMono - clock.runStart),
    run: clock.run,
    rid: r.requestId,
    api: r.api,
    stream: r.stream,
    model: shape?.model,
    chosen: d?.model.name,
    tenant: r.tenant,
    ...shape,
    decision:
      d === undefined
        ? undefined
        : {
            endpoint: d.endpoints[0] ?? '',
            endpoints: d.endpoints,
            strategy: d.strategy,
            reasons: d.reasons,
            affinity: d.affinity.kind === 'prefix' ? `prefix:${d.affinity.score.toFixed(2)}` : d.affinity.kind,
            score: Number(d.score.toFixed(3)),
            priority: d.priority,
            decision_us: r.decisionUs !== undefined ? Math.round(r.decisionUs) : undefined,
          },
    outcome: {
      status: r.status,
      served: r.servedEndpoint,
      ttfb_ms: r.upstreamMs !== undefined ? round1(r.upstreamMs) : undefined,
      total_ms: r.totalMs !== undefined ? round1(r.totalMs) : undefined,
    },
    refused: r.error !== undefined ? { code: r.error.code, status: r.error.status } : undefined,
    body: includePrompts && r.error === undefined && a !== undefined ? a.input.body : undefined,
  };
}
