// The precise prefix index, wired: for every model with `kv_events` (config/kv-events-schema.ts)
// one ZMQ subscriber follows each of its replicas (subscriber.ts), a PreciseIndex holds what each
// replica reports, and `lookup` tells decide() (core/types.ts PreciseLookup) which share of a
// prompt each replica holds.
// A replica's held blocks = what its events reported, plus the blocks of prompts kvfleet routed
// there in the last pending_ms that it has not reported yet (pending-blocks.ts).
// Per replica, the events are trusted only while its stream is:
//   connected (ZMQ), reliable (no unrecovered seq gap, replica-stream.ts), not replaying, has
//   published at least once, and not silent: work routed to it more than max_silence_ms ago with
//   no batch since (vLLM publishes nothing when idle, so silence alone is normal)
// An untrusted replica is scored by the approximate index instead, and the decision says so:
//   reason kv-precise (every replica trusted) · kv-partial:<why> · kv-fallback:<why>
//   (why = the first untrusted replica's state: disconnected, seq-gap, silent, replaying,
//   no-events-yet; or, for the whole request, no-template, multimodal, tools, prompt-shape,
//   template-error)
// plus the metrics below and GET /fleet (`kv_events`). Subscriptions follow the model's
// endpoints (discovered members included) every second and on reload.
// Metrics (labels from the fleet file; states a fixed list):
//   kvfleet_kv_events_replicas{model,state}   replicas per state (fresh or why not)
//   kvfleet_kv_events_total{model,type}       events applied (stored, removed, cleared)
//   kvfleet_kv_index_blocks{model}            blocks the index holds, all replicas
//   kvfleet_kv_index_lookups_total{model,mode} decisions by mode (precise, partial, fallback)
import { dirname, resolve } from 'node:path';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Fleet, Model } from '../../config/fleet.js';
import { parseEndpoint } from '../../config/endpoint-address.js';
import type { KvEventsConfig } from '../../config/kv-events-schema.js';
import { endpointsOf } from '../../core/membership.js';
import type { LiveView, PreciseMatch } from '../../core/types.js';
import type { Logger } from '../../obs/logger.js';
import type { RequestInput } from '../../request/types.js';
import { blockHashChain, low64, noneHash } from './block-hash.js';
import { PendingBlocks } from './pending-blocks.js';
import { PreciseIndex } from './precise-index.js';
import { chatTemplateOf, PromptTokenizer } from './prompt-tokens.js';
import { KvEventSubscriber, type KvEventSource } from './subscriber.js';
import { loadTokenizer, type LoadedTokenizer } from './tokenizer.js';

export const REPLICA_STATES = ['fresh', 'disconnected', 'seq-gap', 'silent', 'replaying', 'no-events-yet'] as const;
export type ReplicaState = (typeof REPLICA_STATES)[number];

interface Entry {
  readonly model: string;
  readonly cfg: KvEventsConfig;
  readonly key: string;
  readonly prompts: PromptTokenizer;
  readonly parent: Uint8Array;
  readonly index: PreciseIndex;
  /** Blocks of prompts routed to a replica, until it reports them (pending_ms). */
  readonly pending: PendingBlocks<bigint>;
  /** The block keys lookup() computed for a request, for routed() (weak: dropped with the request). */
  readonly keysOf: WeakMap<RequestInput, readonly bigint[]>;
  readonly subscriber: KvEventSubscriber;
  /** Per replica: when the earliest work not yet followed by a batch was routed there (Date.now()). */
  readonly busySince: Map<string, number>;
}

export interface KvIndexOptions {
  readonly fleet: Fleet;
  /** The fleet file (relative tokenizer and template paths are relative to it). */
  readonly fleetPath: string;
  readonly live: LiveView;
  readonly registry?: Registry | undefined;
  readonly log?: Logger | undefined;
  readonly syncMs?: number;
}

/** The PUB (and replay) address of one replica's engine. */
export function kvSourceOf(cfg: KvEventsConfig, endpoint: string): KvEventSource | undefined {
  const ep = parseEndpoint(endpoint);
  const host = ep === undefined ? undefined : ep.host.includes(':') ? `[${ep.host}]` : ep.host;
  const address = cfg.endpoints[endpoint] ?? (host !== undefined ? `tcp://${host}:${cfg.port}` : undefined);
  if (address === undefined) return undefined;
  const replay = cfg.replay_endpoints[endpoint] ?? (host !== undefined && cfg.replay_port !== undefined ? `tcp://${host}:${cfg.replay_port}` : undefined);
  return replay !== undefined ? { endpoint, address, replayAddress: replay } : { endpoint, address };
}

export class KvIndex {
  private readonly entries = new Map<string, Entry>();
  private readonly tokenizers = new Map<string, LoadedTokenizer>();
  private readonly timer: NodeJS.Timeout;
  private fleet: Fleet;
  private readonly m: {
    events: Counter<'model' | 'type'>;
    lookups: Counter<'model' | 'mode'>;
  };

  /** Loads every kv_events model's tokenizer (throws naming the field when one cannot be read) and subscribes. */
  constructor(private readonly o: KvIndexOptions) {
    this.fleet = o.fleet;
    const registers = o.registry !== undefined ? [o.registry] : [];
    this.m = {
      events: new Counter({ name: 'kvfleet_kv_events_total', help: 'KV-cache events applied to the precise index', labelNames: ['model', 'type'], registers }),
      lookups: new Counter({ name: 'kvfleet_kv_index_lookups_total', help: 'Decisions by prefix index mode', labelNames: ['model', 'mode'], registers }),
    };
    const entries = this.entries;
    const stateOf = (e: Entry, ep: string, now: number): ReplicaState => this.stateOf(e, ep, now);
    new Gauge({
      name: 'kvfleet_kv_events_replicas',
      help: 'Replicas of kv_events models by event stream state (fresh: the precise index is used)',
      labelNames: ['model', 'state'],
      registers,
      collect() {
        this.reset();
        for (const e of entries.values()) {
          const counts = new Map<ReplicaState, number>(REPLICA_STATES.map((s) => [s, 0]));
          for (const ep of e.subscriber.endpoints()) {
            const s = stateOf(e, ep, Date.now());
            counts.set(s, (counts.get(s) ?? 0) + 1);
          }
          for (const [state, n] of counts) this.set({ model: e.model, state }, n);
        }
      },
    });
    new Gauge({
      name: 'kvfleet_kv_index_blocks',
      help: 'Blocks the precise index holds for the model, all replicas',
      labelNames: ['model'],
      registers,
      collect() {
        this.reset();
        for (const e of entries.values()) this.set({ model: e.model }, e.index.blocks());
      },
    });
    this.apply(o.fleet, true);
    this.timer = setInterval(() => this.sync(), o.syncMs ?? 1000);
    this.timer.unref();
  }

  /** After a fleet reload: models whose kv_events changed are re-subscribed; a tokenizer that cannot be loaded leaves its model on the approximate index (logged). */
  update(fleet: Fleet): void {
    this.fleet = fleet;
    this.apply(fleet, false);
  }

  /** Whether some model has kv_events. */
  get active(): boolean {
    return this.entries.size > 0;
  }

  /** decide()'s PreciseLookup. */
  readonly lookup = (model: Model, input: RequestInput): PreciseMatch | undefined => {
    const e = this.entries.get(model.name);
    if (e === undefined || input.api === 'embedding') return undefined;
    const match = this.match(e, model, input);
    this.m.lookups.inc({ model: e.model, mode: match.mode });
    return match;
  };

  /** Work was routed to `endpoint`: from now on it should publish (silence detection), and its prompt counts as pending there. */
  routed(model: Model, endpoint: string, input?: RequestInput): void {
    const e = this.entries.get(model.name);
    if (e === undefined) return;
    const keys = input !== undefined ? e.keysOf.get(input) : undefined;
    if (keys !== undefined) e.pending.add(endpoint, keys, Date.now());
    const since = e.busySince.get(endpoint);
    const last = e.subscriber.status(endpoint)?.lastBatchAt ?? null;
    if (since === undefined || (last !== null && last >= since)) e.busySince.set(endpoint, Date.now());
  }

  /** GET /fleet `kv_events`. */
  view(): Record<string, unknown> {
    const now = Date.now();
    const out: Record<string, unknown> = {};
    for (const e of this.entries.values()) {
      out[e.model] = {
        block_size: e.cfg.block_size,
        topic: e.cfg.topic,
        tokenizer: e.prompts.tokenizer.path,
        blocks: e.index.blocks(),
        replicas: e.subscriber.endpoints().map((ep) => {
          const s = e.subscriber.status(ep);
          return {
            endpoint: ep,
            address: s?.address,
            state: this.stateOf(e, ep, now),
            connected: s?.connected ?? false,
            reliable: s?.reliable ?? false,
            last_seq: s?.lastSeq ?? null,
            last_batch_ms_ago: s?.lastBatchAt !== null && s?.lastBatchAt !== undefined ? now - s.lastBatchAt : null,
            batches: s?.batches ?? 0,
            gaps: s?.gaps ?? 0,
            blocks: e.index.size(ep),
            last_error: s?.lastError ?? null,
          };
        }),
      };
    }
    return out;
  }

  /** The stream state of one replica (fresh = its events are used). */
  state(model: string, endpoint: string): ReplicaState | undefined {
    const e = this.entries.get(model);
    return e === undefined ? undefined : this.stateOf(e, endpoint, Date.now());
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.entries.values()].map((e) => e.subscriber.close()));
    this.entries.clear();
  }

  private match(e: Entry, model: Model, input: RequestInput): PreciseMatch {
    const now = Date.now();
    const addrs = endpointsOf(model, this.o.live);
    const fresh: string[] = [];
    let why: string | undefined;
    for (const a of addrs) {
      const s = this.stateOf(e, a, now);
      if (s === 'fresh') fresh.push(a);
      else why ??= s;
    }
    if (fresh.length === 0) return { mode: 'fallback', reason: why ?? 'no-replicas', shares: new Map() };
    const src = e.prompts.source(input.api === 'chat' ? 'chat' : 'completion', input.body);
    if (!src.ok) return { mode: 'fallback', reason: src.reason, shares: new Map() };
    // Tokenize and hash the first 8 blocks; only when some replica holds all of them, the rest (up
    // to max_blocks): a prompt that no replica holds costs 8 blocks of work, not all of it.
    const bs = e.cfg.block_size;
    const cap = e.cfg.max_blocks * bs;
    const held = new Map<string, number>();
    let max = Math.min(cap, 8 * bs);
    let total: number;
    let keys: bigint[];
    for (;;) {
      const t = e.prompts.prefix(src, max);
      if (!t.ok) return { mode: 'fallback', reason: t.reason, shares: new Map() };
      keys = blockHashChain(t.ids, { blockSize: bs, parent: e.parent }).map(low64);
      total = Math.max(1, t.ids.length / t.coverage);
      let open = false;
      for (const a of fresh) {
        const n = e.index.match(a, keys, (k) => e.pending.has(a, k, now));
        held.set(a, n);
        if (n === keys.length) open = true;
      }
      if (!open || !t.truncated || max >= cap) break;
      max = cap;
    }
    e.keysOf.set(input, keys);
    const shares = new Map<string, number>();
    for (const a of fresh) shares.set(a, Math.min(1, ((held.get(a) ?? 0) * bs) / total));
    return fresh.length === addrs.length ? { mode: 'precise', shares } : { mode: 'partial', reason: why, shares };
  }

  private stateOf(e: Entry, endpoint: string, now: number): ReplicaState {
    const s = e.subscriber.status(endpoint);
    if (s === undefined || !s.connected) return 'disconnected';
    if (s.replaying) return 'replaying';
    if (s.batches === 0) return 'no-events-yet';
    if (!s.reliable) return 'seq-gap';
    const busy = e.busySince.get(endpoint);
    if (busy !== undefined && now - busy >= e.cfg.max_silence_ms && (s.lastBatchAt === null || s.lastBatchAt < busy)) return 'silent';
    return 'fresh';
  }

  private apply(fleet: Fleet, strict: boolean): void {
    const wanted = new Map<string, { model: Model; cfg: KvEventsConfig; i: number }>();
    fleet.models.forEach((m, i) => {
      if (m.kv_events !== undefined) wanted.set(m.name, { model: m, cfg: m.kv_events, i });
    });
    for (const [name, e] of this.entries) {
      const w = wanted.get(name);
      if (w === undefined || JSON.stringify(w.cfg) !== e.key) {
        this.entries.delete(name);
        void e.subscriber.close();
      }
    }
    for (const [name, w] of wanted) {
      if (this.entries.has(name)) continue;
      try {
        this.entries.set(name, this.create(name, w.cfg, w.i));
      } catch (err) {
        if (strict) throw err;
        this.o.log?.error(
          { model: name, err: err instanceof Error ? err.message : String(err) },
          'kv_events not started; the model uses the approximate index',
        );
      }
    }
    this.sync();
  }

  private create(name: string, cfg: KvEventsConfig, i: number): Entry {
    const base = dirname(this.o.fleetPath);
    const tokPath = resolve(base, cfg.tokenizer);
    let tok = this.tokenizers.get(tokPath);
    if (tok === undefined) {
      try {
        tok = loadTokenizer(tokPath);
      } catch (err) {
        throw new KvEventsConfigError(`models[${i}].kv_events.tokenizer: cannot load ${tokPath}: ${err instanceof Error ? err.message : String(err)}`);
      }
      this.tokenizers.set(tokPath, tok);
    }
    let template: string | undefined;
    try {
      template = chatTemplateOf(tok, cfg.chat_template !== undefined ? resolve(base, cfg.chat_template) : undefined);
    } catch (err) {
      throw new KvEventsConfigError(`models[${i}].kv_events.chat_template: cannot read it: ${err instanceof Error ? err.message : String(err)}`);
    }
    let prompts: PromptTokenizer;
    try {
      prompts = new PromptTokenizer(tok, template);
    } catch (err) {
      throw new KvEventsConfigError(`models[${i}].kv_events.chat_template: not a valid jinja template: ${err instanceof Error ? err.message : String(err)}`);
    }
    const index = new PreciseIndex(cfg.max_blocks_per_replica);
    const pending = new PendingBlocks<bigint>(cfg.pending_ms);
    const busySince = new Map<string, number>();
    const log = this.o.log;
    const subscriber = new KvEventSubscriber(
      {
        onStored: (ep, hashes) => {
          index.stored(ep, hashes);
          pending.settle(ep, hashes);
          this.m.events.inc({ model: name, type: 'stored' });
        },
        onRemoved: (ep, hashes) => {
          index.removed(ep, hashes);
          pending.settle(ep, hashes);
          this.m.events.inc({ model: name, type: 'removed' });
        },
        onCleared: (ep) => {
          index.cleared(ep);
          pending.forget(ep);
          this.m.events.inc({ model: name, type: 'cleared' });
        },
        onReliability: (ep, reliable, reason) => {
          if (reliable) log?.info({ model: name, endpoint: ep, reason }, 'kv events: precise index in use');
          else log?.warn({ model: name, endpoint: ep, reason }, 'kv events: stream not reliable; approximate index used for this replica');
        },
      },
      { topic: cfg.topic },
    );
    return {
      model: name,
      cfg,
      key: JSON.stringify(cfg),
      prompts,
      parent: noneHash(cfg.hash_seed),
      index,
      pending,
      keysOf: new WeakMap(),
      subscriber,
      busySince,
    };
  }

  /** Subscriptions follow the models' endpoints (fleet file or discovered members). */
  private sync(): void {
    for (const e of this.entries.values()) {
      const model = this.fleet.models.find((m) => m.name === e.model);
      if (model === undefined) continue;
      const want = new Set(endpointsOf(model, this.o.live));
      for (const ep of e.subscriber.endpoints()) {
        if (!want.has(ep)) {
          void e.subscriber.remove(ep);
          e.index.forget(ep);
          e.pending.forget(ep);
          e.busySince.delete(ep);
        }
      }
      const have = new Set(e.subscriber.endpoints());
      for (const ep of want) {
        if (have.has(ep)) continue;
        const src = kvSourceOf(e.cfg, ep);
        if (src !== undefined) e.subscriber.add(src);
      }
    }
  }
}

/** A kv_events setting that cannot be used at start (the message names the field). */
export class KvEventsConfigError extends Error {}
