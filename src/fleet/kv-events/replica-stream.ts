// One replica's event stream, without sockets: sequence tracking, reliability, replay.
// seq = s is applied when s = last + 1. Otherwise:
//   first message, s = 0 or s = last + 1      → apply; reliable (nothing was missed)
//   first message with s > 0, or s > last + 1 → a gap: batches were lost. With a replay address,
//       hold live batches (bounded) and ask for [expected, s); a contiguous answer applies them
//       and keeps the state reliable; otherwise apply what arrived and mark it unreliable
//   s ≤ last                                  → the publisher restarted (engine restart empties
//       its cache): clear, then treat s as a first message
//   undecodable payload                       → unreliable (a batch's effect is unknown)
// Unreliable lasts until an AllBlocksCleared event (the engine's cache is empty and known to be),
// or a publisher restart seen from seq 0. Events keep being applied while unreliable.
import { blockKey } from './block-hash.js';
import type { KvEventBatch } from './wire.js';
import { decodeBatch, type DecodeLimits } from './wire-decode.js';

export interface StoredMeta {
  readonly blockSize: number;
  /** The stored blocks' tokens (len = hashes × blockSize): lets a caller key blocks its own way. */
  readonly tokenIds: readonly number[];
  readonly medium: string | null;
  readonly loraId: number | null;
  readonly loraName: string | null;
  readonly groupIdx: number | null;
  readonly kvCacheSpecKind: string | null;
}

export interface KvEventHandlers {
  onStored(endpoint: string, hashes: readonly bigint[], parent: bigint | null, tokenCount: number, meta: StoredMeta): void;
  onRemoved(endpoint: string, hashes: readonly bigint[], medium: string | null): void;
  onCleared(endpoint: string): void;
  /** The replica's precise state became trustworthy (true) or not (false), and why. */
  onReliability?(endpoint: string, reliable: boolean, reason: string): void;
}

export interface StreamStatus {
  readonly reliable: boolean;
  readonly replaying: boolean;
  readonly lastSeq: number | null;
  /** Date.now() of the last batch applied; null before the first. */
  readonly lastBatchAt: number | null;
  readonly batches: number;
  readonly gaps: number;
  readonly restarts: number;
  readonly decodeErrors: number;
  readonly skippedEvents: number;
  readonly replays: number;
  readonly lastError: string | null;
}

export interface Frame {
  readonly seq: number;
  readonly payload: Uint8Array;
}

export class ReplicaStream {
  private last: number | null = null;
  private reliable = false;
  private replayFrom: number | null = null;
  private pending: Frame[] = [];
  private lastAt: number | null = null;
  private readonly n = { batches: 0, gaps: 0, restarts: 0, decodeErrors: 0, skippedEvents: 0, replays: 0 };
  private lastError: string | null = null;

  constructor(
    readonly endpoint: string,
    private readonly handlers: KvEventHandlers,
    private readonly o: { canReplay: boolean; maxPending: number; limits?: DecodeLimits; now?: () => number },
  ) {}

  status(): StreamStatus {
    return { reliable: this.reliable, replaying: this.replayFrom !== null, lastSeq: this.last, lastBatchAt: this.lastAt, ...this.n, lastError: this.lastError };
  }

  /** A live message. Returns the first seq to ask a replay for, or null. */
  live(f: Frame): number | null {
    if (this.replayFrom !== null) {
      if (this.pending.length < this.o.maxPending) this.pending.push(f);
      else this.setReliable(false, 'live messages overflowed during a replay');
      return null;
    }
    if (this.last !== null && f.seq <= this.last) {
      const reason = `publisher restarted (seq ${f.seq} after ${this.last})`;
      this.n.restarts++;
      this.last = null;
      this.handlers.onCleared(this.endpoint);
      this.setReliable(false, reason);
    }
    const expected = this.last === null ? 0 : this.last + 1;
    if (f.seq === expected) {
      if (this.last === null) this.setReliable(true, 'stream followed from its first batch');
      this.apply(f);
      return null;
    }
    this.n.gaps++;
    if (this.o.canReplay) {
      this.replayFrom = expected;
      this.pending = [f];
      this.n.replays++;
      return expected;
    }
    this.setReliable(false, `missed batches ${expected}..${f.seq - 1}`);
    this.apply(f);
    return null;
  }

  /**
   * A message that is not [topic, seq, payload] (counted; a lost batch shows up as a seq gap), or
   * a batch whose effect on the caller's index is unknown (`lost`: the state becomes unreliable).
   */
  malformed(reason: string, lost = false): void {
    this.n.decodeErrors++;
    this.lastError = reason;
    if (lost) this.setReliable(false, reason);
  }

  /** The answer to a replay request (batches in any order; `complete` = the end marker came). */
  replayed(frames: readonly Frame[], complete: boolean): void {
    const from = this.replayFrom;
    if (from === null) return;
    this.replayFrom = null;
    const held = this.pending;
    this.pending = [];
    const until = held[0]?.seq ?? Infinity;
    const wanted = frames.filter((f) => f.seq >= from && f.seq < until).sort((a, b) => a.seq - b.seq);
    let next = from;
    for (const f of wanted) if (f.seq === next) next++;
    const covered = next === until || (complete && until === Infinity);
    const wasReliable = this.reliable || (this.last === null && from === 0);
    for (const f of wanted) if (this.last === null || f.seq > this.last) this.apply(f);
    if (covered && wasReliable) this.setReliable(true, `replayed ${from}..${next - 1}`);
    else this.setReliable(false, covered ? 'replayed a gap of a stream already unreliable' : `replay missed batches from ${next}`);
    if (!covered && held[0] !== undefined) this.last = held[0].seq - 1;
    for (const f of held) {
      if (this.last !== null && f.seq <= this.last) continue;
      if (this.last !== null && f.seq !== this.last + 1) {
        this.n.gaps++;
        this.setReliable(false, `missed batches ${this.last + 1}..${f.seq - 1}`);
      }
      this.apply(f);
    }
  }

  private apply(f: Frame): void {
    this.last = f.seq;
    const r = decodeBatch(f.payload, this.o.limits);
    if (!r.ok) {
      this.n.decodeErrors++;
      this.lastError = r.error;
      this.setReliable(false, `batch ${f.seq} undecodable: ${r.error}`);
      return;
    }
    this.n.batches++;
    this.n.skippedEvents += r.skipped;
    this.lastAt = (this.o.now ?? Date.now)();
    this.dispatch(r.batch);
  }

  private dispatch(b: KvEventBatch): void {
    for (const e of b.events) {
      if (e.type === 'AllBlocksCleared') {
        this.handlers.onCleared(this.endpoint);
        this.setReliable(true, 'engine cleared its cache');
      } else if (e.type === 'BlockRemoved') {
        this.handlers.onRemoved(this.endpoint, e.blockHashes.map(blockKey), e.medium);
      } else {
        const meta: StoredMeta = {
          blockSize: e.blockSize,
          tokenIds: e.tokenIds,
          medium: e.medium,
          loraId: e.loraId,
          loraName: e.loraName,
          groupIdx: e.groupIdx ?? null,
          kvCacheSpecKind: e.kvCacheSpecKind ?? null,
        };
        const parent = e.parentBlockHash === null ? null : blockKey(e.parentBlockHash);
        this.handlers.onStored(this.endpoint, e.blockHashes.map(blockKey), parent, e.tokenIds.length, meta);
      }
    }
  }

  private setReliable(v: boolean, reason: string): void {
    if (!v) this.lastError = reason;
    if (this.reliable === v) return;
    this.reliable = v;
    this.handlers.onReliability?.(this.endpoint, v, reason);
  }
}
