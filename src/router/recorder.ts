// `record:` — every routed request, and every refused one (marked), appended as one JSON Lines
// record when the request ends (the Router's report, router/record-line.ts), for `kvfleet
// replay`. Off the request path: the report comes after the response; the line is queued and
// written in the background (obs/rotating-jsonl.ts: bounded buffer, drops counted, rotation).
// A metered request's token usage (the meter's reading) may arrive just before or just after
// its report: the reading waits for the report (or the line for the reading) up to PARK_MS, in
// bounded maps; then the line is written with what is known.
// Sampling (sample_rate) is drawn from the decision key (or the request id), so a reading
// and its report agree on whether the request is recorded.
import { randomBytes } from 'node:crypto';
import type { RecordConfig } from '../config/record-schema.js';
import { hashKey, KEY_SPACE } from '../core/hash.js';
import { RotatingJsonl } from '../obs/rotating-jsonl.js';
import { recordLine, type RecordedUsage } from './record-line.js';
import type { RequestReport } from './report.js';

/** How long a metered line waits for its usage reading, and a reading for its line. */
export const PARK_MS = 2000;
const USAGE_TTL_MS = 10_000;
const MAX_PARKED = 4096;
const ERROR_EVERY_MS = 60_000;

export interface RecorderDeps {
  /** Monotonic ms, the Router's clock (admission.startedAt is on it). */
  readonly now: () => number;
  readonly wallNow?: (() => number) | undefined;
  /** A write or rotation failed (told at most once per ERROR_EVERY_MS). */
  readonly onError?: ((e: unknown) => void) | undefined;
  /** Lines written, dropped (writer behind, line too long) or failed (write error). */
  readonly onCount?: ((result: 'written' | 'dropped' | 'failed', n: number) => void) | undefined;
  /** Background flush interval of the file (default 200 ms). */
  readonly flushMs?: number | undefined;
}

interface Parked {
  readonly text: string;
  readonly bytes: number;
  readonly at: number;
}

const MIB = 1024 * 1024;

/** The file settings that need a new writer when they change. */
const fileOf = (c: RecordConfig): string => JSON.stringify([c.path, c.max_file_mb, c.max_files, c.buffer_mb]);

export class Recorder {
  private cfg: RecordConfig | undefined;
  private writer: RotatingJsonl | undefined;
  private readonly run = randomBytes(4).toString('hex');
  private readonly runStart: number;
  /** Metered lines waiting for their usage, by decision key. */
  private readonly parked = new Map<string, Parked>();
  /** Usage readings waiting for their line, by decision key. */
  private readonly early = new Map<string, { u: RecordedUsage; at: number }>();
  private readonly sweeper: NodeJS.Timeout;
  private errorAt = -Infinity;

  private constructor(private readonly deps: RecorderDeps) {
    this.runStart = deps.now();
    this.sweeper = setInterval(() => this.sweep(this.deps.now()), 1000).unref();
  }

  /** A recorder for `cfg` (undefined: records nothing); rejects when the file cannot be opened. */
  static async open(cfg: RecordConfig | undefined, deps: RecorderDeps): Promise<Recorder> {
    const r = new Recorder(deps);
    try {
      await r.configure(cfg);
    } catch (e) {
      clearInterval(r.sweeper);
      throw e;
    }
    return r;
  }

  get enabled(): boolean {
    return this.writer !== undefined;
  }

  /** The file being written, if any. */
  get path(): string | undefined {
    return this.writer?.path;
  }

  /**
   * Apply a (re)loaded `record:`: include_prompts and sample_rate at once; a new path or file
   * limits open a new file first (rejects, keeping the current one, when it cannot be opened);
   * no `record:` stops recording.
   */
  async configure(cfg: RecordConfig | undefined): Promise<void> {
    const old = this.writer;
    if (cfg === undefined) {
      this.cfg = undefined;
      this.writer = undefined;
      this.flushParked();
      await old?.close();
      return;
    }
    if (old !== undefined && this.cfg !== undefined && fileOf(this.cfg) === fileOf(cfg)) {
      this.cfg = cfg;
      return;
    }
    const next = await RotatingJsonl.open({
      path: cfg.path,
      maxFileBytes: Math.round(cfg.max_file_mb * MIB),
      maxFiles: cfg.max_files,
      maxBufferBytes: Math.round(cfg.buffer_mb * MIB),
      flushMs: this.deps.flushMs,
      onError: (e) => this.error(e),
      onCount: this.deps.onCount,
    });
    this.flushParked();
    this.cfg = cfg;
    this.writer = next;
    await old?.close();
  }

  /** The end of a request (routed or refused). */
  record(r: RequestReport): void {
    const cfg = this.cfg;
    const w = this.writer;
    // Neither routed nor refused: kvfleet answered itself (GET /v1/models).
    if (cfg === undefined || w === undefined || (r.decision === undefined && r.error === undefined)) return;
    const key = r.key ?? r.requestId;
    if (!this.sampled(key, cfg.sample_rate)) return;
    const now = this.deps.now();
    this.sweep(now);
    const line = recordLine(r, { wall: this.deps.wallNow?.() ?? Date.now(), mono: now, runStart: this.runStart, run: this.run }, cfg.include_prompts);
    const text = JSON.stringify(line);
    if (r.metered !== true || r.key === undefined) {
      w.append(text);
      return;
    }
    const early = this.early.get(r.key);
    if (early !== undefined) {
      this.early.delete(r.key);
      w.append(withUsage(text, early.u));
      return;
    }
    // Wait for the reading, in room set aside in the writer's buffer.
    const bytes = Buffer.byteLength(text, 'utf8') + 64;
    if (this.parked.size >= MAX_PARKED) this.unpark(this.parked.keys().next().value as string);
    if (!w.reserve(bytes)) {
      w.append(text);
      return;
    }
    this.parked.set(r.key, { text, bytes, at: now });
  }

  /** A metered request's usage (the meter's reading), by its decision key. */
  usage(key: string, u: RecordedUsage): void {
    const cfg = this.cfg;
    const w = this.writer;
    if (cfg === undefined || w === undefined || !this.sampled(key, cfg.sample_rate)) return;
    const now = this.deps.now();
    this.sweep(now);
    const p = this.parked.get(key);
    if (p !== undefined) {
      this.parked.delete(key);
      w.release(p.bytes);
      w.append(withUsage(p.text, u));
      return;
    }
    if (this.early.size >= MAX_PARKED) this.early.delete(this.early.keys().next().value as string);
    this.early.set(key, { u, at: now });
  }

  /** Write what is queued (tests, shutdown). */
  async flush(): Promise<void> {
    this.flushParked();
    await this.writer?.flush();
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.flushParked();
    const w = this.writer;
    this.writer = undefined;
    this.cfg = undefined;
    await w?.close();
  }

  private error(e: unknown): void {
    const now = this.deps.now();
    if (now - this.errorAt < ERROR_EVERY_MS) return;
    this.errorAt = now;
    this.deps.onError?.(e);
  }

  private sampled(key: string, rate: number): boolean {
    return rate >= 1 || (rate > 0 && hashKey(key) / KEY_SPACE < rate);
  }

  private unpark(key: string): void {
    const p = this.parked.get(key);
    if (p === undefined) return;
    this.parked.delete(key);
    this.writer?.release(p.bytes);
    this.writer?.append(p.text);
  }

  private flushParked(): void {
    for (const k of [...this.parked.keys()]) this.unpark(k);
    this.early.clear();
  }

  /** Lines whose reading did not come within PARK_MS are written without it; stale readings forgotten. */
  private sweep(now: number): void {
    for (const [k, p] of this.parked) {
      if (now - p.at < PARK_MS) break;
      this.unpark(k);
    }
    for (const [k, e] of this.early) {
      if (now - e.at < USAGE_TTL_MS) break;
      this.early.delete(k);
    }
  }
}

/** The serialised line with `usage` added (the line is a JSON object: insert before its closing brace). */
function withUsage(text: string, u: RecordedUsage): string {
  return `${text.slice(0, -1)},"usage":${JSON.stringify(u)}}`;
}
