// Benchmark workloads: seeded, reproducible request streams.
//   shared-prefix  groups × prompts-per-group; each request = the group's system prompt
//                  (systemTokens) + one of the group's questions (questionTokens); groups drawn
//                  with Zipf(zipf) popularity, questions uniformly (the shape of SGLang's
//                  generated-shared-prefix benchmark, scaled down).
//   multi-turn     conversations of `turns` turns over a shared system prompt (one of
//                  systemGroups, Zipf); turn t's prompt is the whole history so far (every
//                  earlier user message and reply) plus the new user message, so turn t+1
//                  extends turn t. Turns of a conversation are thinkMs (exponential) apart.
//   random         no sharing: every prompt is fresh text of promptTokens.
//   adversarial    what real traffic does to prefix routing: every prompt starts with the same
//                  preamble (one shared first block), sizes from 1k to 90k tokens (most small,
//                  a few enormous), a share of requests continuing an earlier conversation with
//                  no session id (the prompt extends that conversation's last one), and bursty
//                  arrivals (the rate alternates between burstFactor × and (2 − burstFactor) ×
//                  the mean every burstMs).
// A prompt is a list of spans: the first `tokens` tokens of a text source (a numeric id).
// Two prompts share a prefix exactly when their leading spans do; blockKeys() turns that into
// chained block keys, and text.ts renders the same spans as text for live runs.
// Arrivals: open-loop Poisson at `rate` requests/s (the arrivalMs field); closed-loop runs
// ignore arrivalMs and issue the next request when a client's previous one completes.
import { NumSet } from './block-cache.js';
import { exponential, intBelow, rngFor, Zipf, type Rng } from './rand.js';

export type SpanRole = 'system' | 'user';

export interface Span {
  /** Text source id (see SRC_*). */
  readonly src: number;
  /** Leading tokens of the source. */
  readonly tokens: number;
  readonly role: SpanRole;
}

export interface BenchRequest {
  /** 0, 1, 2, … in arrival order. */
  readonly id: number;
  /** Open-loop arrival time, ms from the start. */
  readonly arrivalMs: number;
  readonly spans: readonly Span[];
  readonly promptTokens: number;
  readonly outputTokens: number;
  /** Conversation id (multi-turn), else -1: sent as x-session-id. */
  readonly session: number;
  /** Shared-prefix group / system prompt, else -1. */
  readonly group: number;
}

export interface Workload {
  readonly kind: WorkloadKind;
  /** Next request in arrival order; undefined when the stream is exhausted. */
  next(): BenchRequest | undefined;
}

export const WORKLOAD_KINDS = ['shared-prefix', 'multi-turn', 'random', 'adversarial'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

export interface SharedPrefixSpec {
  readonly kind: 'shared-prefix';
  readonly groups: number;
  readonly promptsPerGroup: number;
  readonly systemTokens: number;
  readonly questionTokens: number;
  readonly outputTokens: number;
  /** Zipf exponent of group popularity (0 = uniform). */
  readonly zipf: number;
}

export interface MultiTurnSpec {
  readonly kind: 'multi-turn';
  readonly systemGroups: number;
  readonly systemTokens: number;
  readonly turns: number;
  /** New user tokens per turn. */
  readonly turnTokens: number;
  /** Reply tokens per turn (they join the history). */
  readonly outputTokens: number;
  readonly thinkMs: number;
  readonly zipf: number;
}

export interface RandomSpec {
  readonly kind: 'random';
  readonly promptTokens: number;
  readonly outputTokens: number;
}

export interface AdversarialSpec {
  readonly kind: 'adversarial';
  /** Tokens every prompt starts with (the common preamble). */
  readonly commonTokens: number;
  /** New conversations: 90 % log-uniform in [minTokens, midTokens], 10 % in [midTokens, maxTokens]. */
  readonly minTokens: number;
  readonly midTokens: number;
  readonly maxTokens: number;
  /** Share of requests that continue a recent conversation (no session id). */
  readonly followUpShare: number;
  /**
   * Follow-ups continue one of the `recentConversations` latest conversations (uniformly).
   * Scenarios scale it with the fleet (16 per replica, at least 256) so that a conversation's
   * turns stay seconds apart whatever the arrival rate.
   */
  readonly recentConversations: number;
  /** New user tokens of a follow-up turn. */
  readonly turnTokens: number;
  readonly outputTokens: number;
  readonly burstFactor: number;
  readonly burstMs: number;
}

export type WorkloadSpec = SharedPrefixSpec | MultiTurnSpec | RandomSpec | AdversarialSpec;

export interface StreamSpec {
  readonly seed: number;
  readonly requests: number;
  /** Open-loop rate, requests/s. */
  readonly rate: number;
}

/** Source id namespaces: kind · 2^40 + index (exact in doubles). */
const NS = 2 ** 40;
export const SRC_SYSTEM = 1 * NS;
export const SRC_QUESTION = 2 * NS;
export const SRC_CONVERSATION = 3 * NS;
export const SRC_RANDOM = 4 * NS;
export const SRC_COMMON = 5 * NS;
export const SRC_ADVERSARIAL = 6 * NS;

export const DEFAULT_SPECS: Readonly<Record<WorkloadKind, WorkloadSpec>> = Object.freeze({
  'shared-prefix': { kind: 'shared-prefix', groups: 64, promptsPerGroup: 16, systemTokens: 1024, questionTokens: 128, outputTokens: 16, zipf: 1.0 },
  'multi-turn': { kind: 'multi-turn', systemGroups: 8, systemTokens: 256, turns: 6, turnTokens: 96, outputTokens: 16, thinkMs: 2000, zipf: 1.0 },
  random: { kind: 'random', promptTokens: 1152, outputTokens: 16 },
  adversarial: {
    kind: 'adversarial',
    commonTokens: 64,
    minTokens: 1000,
    midTokens: 8000,
    maxTokens: 90_000,
    followUpShare: 0.4,
    recentConversations: 256,
    turnTokens: 400,
    outputTokens: 16,
    burstFactor: 1.5,
    burstMs: 5000,
  },
});

function sumTokens(spans: readonly Span[]): number {
  let n = 0;
  for (const s of spans) n += s.tokens;
  return n;
}

class SharedPrefix implements Workload {
  readonly kind = 'shared-prefix' as const;
  private readonly rng: Rng;
  private readonly zipf: Zipf;
  private i = 0;
  private t = 0;

  constructor(
    private readonly spec: SharedPrefixSpec,
    private readonly stream: StreamSpec,
  ) {
    this.rng = rngFor(stream.seed, 1);
    this.zipf = new Zipf(spec.groups, spec.zipf);
  }

  next(): BenchRequest | undefined {
    if (this.i >= this.stream.requests) return undefined;
    const s = this.spec;
    this.t += exponential(this.rng, 1000 / this.stream.rate);
    const group = this.zipf.draw(this.rng);
    const q = intBelow(this.rng, s.promptsPerGroup);
    const spans: Span[] = [
      { src: SRC_SYSTEM + group, tokens: s.systemTokens, role: 'system' },
      { src: SRC_QUESTION + group * s.promptsPerGroup + q, tokens: s.questionTokens, role: 'user' },
    ];
    return { id: this.i++, arrivalMs: this.t, spans, promptTokens: sumTokens(spans), outputTokens: s.outputTokens, session: -1, group };
  }
}

class RandomPrompts implements Workload {
  readonly kind = 'random' as const;
  private readonly rng: Rng;
  private i = 0;
  private t = 0;

  constructor(
    private readonly spec: RandomSpec,
    private readonly stream: StreamSpec,
  ) {
    this.rng = rngFor(stream.seed, 3);
  }

  next(): BenchRequest | undefined {
    if (this.i >= this.stream.requests) return undefined;
    this.t += exponential(this.rng, 1000 / this.stream.rate);
    const id = this.i++;
    // The seed is part of the source id so two seeds never share text.
    const spans: Span[] = [{ src: SRC_RANDOM + (this.stream.seed % 65536) * 2 ** 24 + id, tokens: this.spec.promptTokens, role: 'user' }];
    return { id, arrivalMs: this.t, spans, promptTokens: this.spec.promptTokens, outputTokens: this.spec.outputTokens, session: -1, group: -1 };
  }
}

interface Conversation {
  readonly id: number;
  readonly group: number;
  turn: number;
  history: number;
  at: number;
}

/** Min-heap of conversations by next-turn time (ties: conversation id). */
class ConvHeap {
  private readonly a: Conversation[] = [];
  get size(): number {
    return this.a.length;
  }
  peek(): Conversation | undefined {
    return this.a[0];
  }
  private less(x: Conversation, y: Conversation): boolean {
    return x.at < y.at || (x.at === y.at && x.id < y.id);
  }
  push(c: Conversation): void {
    const a = this.a;
    a.push(c);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i] as Conversation, a[p] as Conversation)) break;
      [a[i], a[p]] = [a[p] as Conversation, a[i] as Conversation];
      i = p;
    }
  }
  pop(): Conversation | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l] as Conversation, a[m] as Conversation)) m = l;
        if (r < a.length && this.less(a[r] as Conversation, a[m] as Conversation)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m] as Conversation, a[i] as Conversation];
        i = m;
      }
    }
    return top;
  }
}

class MultiTurn implements Workload {
  readonly kind = 'multi-turn' as const;
  private readonly rng: Rng;
  private readonly zipf: Zipf;
  private readonly heap = new ConvHeap();
  private i = 0;
  private convs = 0;
  private nextStart: number;

  constructor(
    private readonly spec: MultiTurnSpec,
    private readonly stream: StreamSpec,
  ) {
    this.rng = rngFor(stream.seed, 2);
    this.zipf = new Zipf(spec.systemGroups, spec.zipf);
    this.nextStart = exponential(this.rng, this.startGapMs());
  }

  /** Conversations start at rate / turns so that requests arrive at `rate` in steady state. */
  private startGapMs(): number {
    return (1000 * this.spec.turns) / this.stream.rate;
  }

  next(): BenchRequest | undefined {
    if (this.i >= this.stream.requests) return undefined;
    const s = this.spec;
    const head = this.heap.peek();
    if (head === undefined || this.nextStart <= head.at) {
      this.heap.push({ id: this.convs++, group: this.zipf.draw(this.rng), turn: 0, history: 0, at: this.nextStart });
      this.nextStart += exponential(this.rng, this.startGapMs());
    }
    const c = this.heap.pop() as Conversation;
    c.history += s.turnTokens;
    const spans: Span[] = [
      { src: SRC_SYSTEM + 1_000_000 + c.group, tokens: s.systemTokens, role: 'system' },
      { src: SRC_CONVERSATION + c.id, tokens: c.history, role: 'user' },
    ];
    const req: BenchRequest = {
      id: this.i++,
      arrivalMs: c.at,
      spans,
      promptTokens: sumTokens(spans),
      outputTokens: s.outputTokens,
      session: c.id,
      group: c.group,
    };
    c.history += s.outputTokens; // the reply joins the history of the next turn
    c.turn++;
    if (c.turn < s.turns) {
      c.at += exponential(this.rng, s.thinkMs);
      this.heap.push(c);
    }
    return req;
  }
}

class Adversarial implements Workload {
  readonly kind = 'adversarial' as const;
  private readonly rng: Rng;
  /** The latest conversations, oldest first, in a ring: recent[(recentStart + i) % cap]. */
  private readonly recent: Array<{ id: number; history: number }> = [];
  private recentStart = 0;
  private i = 0;
  private convs = 0;
  private t = 0;

  constructor(
    private readonly spec: AdversarialSpec,
    private readonly stream: StreamSpec,
  ) {
    this.rng = rngFor(stream.seed, 4);
  }

  private logUniform(lo: number, hi: number): number {
    return Math.round(lo * Math.exp(this.rng.next() * Math.log(hi / lo)));
  }

  next(): BenchRequest | undefined {
    if (this.i >= this.stream.requests) return undefined;
    const s = this.spec;
    // Bursts: the rate alternates around the mean.
    const phase = Math.floor(this.t / s.burstMs) % 2 === 0 ? s.burstFactor : 2 - s.burstFactor;
    this.t += exponential(this.rng, 1000 / (this.stream.rate * phase));
    let conv: { id: number; history: number };
    const recent = this.recent;
    const cap = Math.max(1, s.recentConversations);
    if (recent.length > 0 && this.rng.next() < s.followUpShare) {
      conv = recent[(this.recentStart + intBelow(this.rng, recent.length)) % recent.length] as { id: number; history: number };
      conv.history = Math.min(s.maxTokens, conv.history + s.outputTokens + s.turnTokens);
    } else {
      const size = this.rng.next() < 0.9 ? this.logUniform(s.minTokens, s.midTokens) : this.logUniform(s.midTokens, s.maxTokens);
      conv = { id: this.convs++, history: Math.max(1, size - s.commonTokens) };
      // Full: the new conversation takes the oldest one's place.
      if (recent.length < cap) recent.push(conv);
      else {
        recent[this.recentStart] = conv;
        this.recentStart = (this.recentStart + 1) % cap;
      }
    }
    const spans: Span[] = [
      { src: SRC_COMMON, tokens: s.commonTokens, role: 'system' },
      { src: SRC_ADVERSARIAL + (this.stream.seed % 65536) * 2 ** 24 + conv.id, tokens: conv.history, role: 'user' },
    ];
    return { id: this.i++, arrivalMs: this.t, spans, promptTokens: sumTokens(spans), outputTokens: s.outputTokens, session: -1, group: -1 };
  }
}

export function createWorkload(spec: WorkloadSpec, stream: StreamSpec): Workload {
  if (!(stream.rate > 0)) throw new RangeError('workload rate must be > 0');
  if (!Number.isInteger(stream.requests) || stream.requests < 0) throw new RangeError('workload requests must be an integer >= 0');
  switch (spec.kind) {
    case 'shared-prefix':
      return new SharedPrefix(spec, stream);
    case 'multi-turn':
      return new MultiTurn(spec, stream);
    case 'random':
      return new RandomPrompts(spec, stream);
    case 'adversarial':
      return new Adversarial(spec, stream);
  }
}

// ── block keys ────────────────────────────────────────────────────────────────────────────
// key_b = mix(key_{b-1}, content_b); content_b mixes (src, offset, length) of every span piece
// inside block b. Only full blocks count (like an engine's KV blocks). Keys are < 2^52.

function mix32(h: number, x: number): number {
  h = Math.imul(h ^ x, 0x5bd1e995);
  h ^= h >>> 15;
  return Math.imul(h, 0x27d4eb2d) ^ (h >>> 13);
}

/** Chained keys of the full `blockTokens`-token blocks of a prompt, written to a new array. */
export function blockKeys(spans: readonly Span[], blockTokens: number): Float64Array {
  let total = 0;
  for (const s of spans) total += s.tokens;
  const n = Math.floor(total / blockTokens);
  const out = new Float64Array(n);
  let h1 = 0x12345678;
  let h2 = 0x9abcdef0;
  let si = 0;
  let off = 0; // tokens of spans[si] already consumed
  for (let b = 0; b < n; b++) {
    let need = blockTokens;
    let c1 = h1;
    let c2 = h2;
    while (need > 0) {
      const s = spans[si] as Span;
      const take = Math.min(need, s.tokens - off);
      if (take > 0) {
        const lo = s.src >>> 0;
        const hi = Math.floor(s.src / 4294967296);
        c1 = mix32(mix32(mix32(mix32(c1, lo), hi), off), take);
        c2 = mix32(mix32(mix32(mix32(c2 ^ 0x7f4a7c15, hi), lo), take), off);
        off += take;
        need -= take;
      }
      if (off >= s.tokens) {
        si++;
        off = 0;
      }
    }
    h1 = c1;
    h2 = c2;
    out[b] = (h1 >>> 0) * 1048576 + (h2 >>> 12);
  }
  return out;
}

/**
 * The workload's ideal prefix-hit ceiling: one infinite cache shared by the whole fleet, in
 * arrival order. A request hits its leading blocks seen before (capped like vLLM at
 * prompt tokens − 1). Returns hit tokens / prompt tokens.
 */
export function idealHitRate(w: Workload, blockTokens: number): { hitTokens: number; promptTokens: number; rate: number } {
  const seen = new NumSet();
  let hit = 0;
  let total = 0;
  for (let r = w.next(); r !== undefined; r = w.next()) {
    const keys = blockKeys(r.spans, blockTokens);
    const max = Math.min(keys.length, Math.floor(Math.max(0, r.promptTokens - 1) / blockTokens));
    let i = 0;
    while (i < max && seen.has(keys[i] as number)) i++;
    hit += i * blockTokens;
    total += r.promptTokens;
    for (let k = 0; k < keys.length; k++) seen.add(keys[k] as number);
  }
  return { hitTokens: hit, promptTokens: total, rate: total > 0 ? hit / total : 0 };
}
