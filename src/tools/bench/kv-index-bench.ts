// `npm run bench:kv-index`: the approximate prefix index vs the precise one (the engines' KV
// events, src/fleet/kv-events) under memory pressure, in virtual time and live.
//   virtual  kvfleet's own Router over the discrete-event replica model (des.ts), the same request
//            stream for every policy; "precise" reads each replica's simulated cache as its KV
//            events would report it — delivered instantly (a real stream lags by milliseconds),
//            so it is the precise index's upper bound. Reference rows: the SGLang-style policy,
//            and the hit rate of ONE pooled LRU cache with the fleet's total memory (the issue's
//            yardstick) next to the workload's infinite-cache ceiling. No session ids are sent.
//   live     simulated replicas publishing real KV events (--kv-events: bundled tokenizer, chat
//            template, vLLM block hashes, ZMQ) behind a real Envoy and `kvfleet serve`, once
//            without kv_events and once with; replicas' caches small enough to evict.
// Flags: --virtual-only, --live-only, --requests N (virtual, per scenario), --seconds S (live).
import { join } from 'node:path';
import { runDes, type DesResult } from './des.js';
import { BlockCache } from './block-cache.js';
import { kvfleetFactory, type KvfleetPolicyOptions } from './policies/kvfleet.js';
import { sglangFactory } from './policies/sglang.js';
import type { PolicyFactory } from './policy.js';
import { fmt, pct, textTable, type Cell } from './report.js';
import { scenario, streamOf, type Scenario } from './scenarios.js';
import { blockKeys, createWorkload, DEFAULT_SPECS, idealHitRate, type Workload } from './workload.js';
import { BENCH_MODEL_ID, REPO_ROOT, startLocalStack } from './local-stack.js';
import { runLive } from './live.js';
import { bundledTokenizerPath } from '../../fleet/kv-events/tokenizer.js';
import { waitFor } from '../ports.js';
import { PendingBlocks } from '../../fleet/kv-events/pending-blocks.js';

const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(name);
const num = (name: string, d: number): number => {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : d;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} needs a positive number`);
  return v;
};

/**
 * What the engines' events would say: each replica's leading cached blocks of this prompt, now,
 * plus (pendingMs > 0) the blocks of prompts routed there in the last pendingMs that it has not
 * reported yet — the same rule as the production index (fleet/kv-events/pending-blocks.ts); a
 * request's blocks count as reported when it completes (its first token came ≈ decode time
 * earlier: the engine's BlockStored).
 */
export function preciseFromCaches(pendingMs: number): NonNullable<KvfleetPolicyOptions['precise']> {
  return () => {
    const pending = new PendingBlocks<number>(pendingMs);
    let last: Float64Array | undefined;
    return {
      lookup(r, view, now) {
        const shares = new Map<string, number>();
        const caches = view.caches;
        if (caches === undefined) return { mode: 'fallback', reason: 'no-caches', shares };
        last = r.keys;
        const tokens = Math.max(1, r.req.promptTokens);
        for (let i = 0; i < view.n; i++) {
          const a = view.addresses[i] as string;
          const c = caches[i] as { has(key: number): boolean };
          let n = 0;
          while (n < r.keys.length && (c.has(r.keys[n] as number) || pending.has(a, r.keys[n] as number, now))) n++;
          shares.set(a, Math.min(1, (n * view.blockTokens) / tokens));
        }
        return { mode: 'precise', shares };
      },
      routed(endpoint, now) {
        if (last !== undefined) pending.add(endpoint, Array.from(last), now);
      },
      settled(r, endpoint) {
        pending.settle(endpoint, Array.from(r.keys));
      },
    };
  };
}

/** Hit rate of one LRU cache holding the whole fleet's blocks, requests in arrival order. */
export function pooledHitRate(w: Workload, blockTokens: number, capacity: number): number {
  const cache = new BlockCache(capacity, blockTokens);
  let hit = 0;
  let total = 0;
  for (let r = w.next(); r !== undefined; r = w.next()) {
    const keys = blockKeys(r.spans, blockTokens);
    hit += cache.lookup(keys, r.promptTokens);
    total += r.promptTokens;
    cache.insert(keys);
  }
  return total > 0 ? hit / total : 0;
}

const POLICIES: PolicyFactory[] = [
  sglangFactory(),
  kvfleetFactory({ label: 'kvfleet approximate', sessions: false }),
  kvfleetFactory({ label: 'kvfleet precise', sessions: false, precise: preciseFromCaches(2000) }),
  kvfleetFactory({ label: 'kvfleet precise, no pending', sessions: false, precise: preciseFromCaches(0) }),
];

function pressured(requests: number): Scenario[] {
  const mt = scenario('multi-turn', { requests });
  return [
    scenario('shared-prefix', { requests }),
    // multi-turn with a quarter of the default cache: conversations outgrow their replica's memory
    { ...mt, name: 'multi-turn (¼ cache)', model: { ...mt.model, cacheBlocks: 256 }, description: `${mt.description}; cache 256 blocks per replica` },
    scenario('adversarial', { requests: Math.min(requests, 4000) }),
  ];
}

function runVirtualPart(requests: number): void {
  const head = ['scenario', 'policy', 'hit rate', '% of pooled', '% of ceiling', 'TTFT p50 ms', 'TTFT p90 ms', 'TTFT p99 ms', 'rejected', 'wall s'];
  const rows: Cell[][] = [];
  for (const s of pressured(requests)) {
    const stream = streamOf(s);
    const ceiling = idealHitRate(createWorkload(s.spec, stream), s.model.blockTokens).rate;
    const pooled = pooledHitRate(createWorkload(s.spec, stream), s.model.blockTokens, s.model.cacheBlocks * s.model.replicas);
    process.stderr.write(`${s.name}: ${s.description}\n  pooled-cache hit rate ${pct(pooled)}, infinite-cache ceiling ${pct(ceiling)}\n`);
    for (const p of POLICIES) {
      const r: DesResult = runDes(p, createWorkload(s.spec, stream), { model: s.model, arrivals: s.arrivals, seed: s.seed });
      process.stderr.write(`  ${p.name}: ${pct(r.hitRate)} hits, p90 ${fmt(r.ttftMs.p90)} ms (${fmt(r.wallMs / 1000, 1)} s)\n`);
      rows.push([
        s.name,
        p.name,
        pct(r.hitRate),
        pct(r.hitRate / pooled),
        pct(r.hitRate / ceiling),
        fmt(r.ttftMs.p50),
        fmt(r.ttftMs.p90),
        fmt(r.ttftMs.p99),
        r.rejected,
        fmt(r.wallMs / 1000, 1),
      ]);
    }
    rows.push([s.name, '(one pooled cache)', pct(pooled), '100.0%', pct(pooled / ceiling), '', '', '', '', '']);
  }
  process.stdout.write(`\n## Virtual time (memory pressure, no session ids)\n\n${textTable(head, rows)}\n`);
}

function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** kvfleet_kv_index_lookups_total by mode, from kvfleet's /metrics. */
async function lookupModes(adminUrl: string): Promise<string> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const of = (mode: string): string => new RegExp(`kvfleet_kv_index_lookups_total\\{[^}]*mode="${mode}"[^}]*\\} (\\d+)`).exec(text)?.[1] ?? '0';
  return `${of('precise')} / ${of('partial')} / ${of('fallback')}`;
}

async function runLivePart(seconds: number): Promise<void> {
  const template = join(REPO_ROOT, 'examples', 'kv-events', 'chat-template.jinja');
  const replicas = 4;
  const stack = await startLocalStack({
    replicas,
    kvEvents: true,
    kvChatTemplate: template,
    cacheBlocks: 192,
    prefillUsPerToken: 100,
    decodeMsPerToken: 1,
    maxConcurrency: 4,
  });
  const head = [
    'index',
    'requests',
    'ok',
    'hit rate',
    'TTFT p50 ms',
    'TTFT p90 ms',
    'TTFT p99 ms',
    'max/mean in-flight',
    'decision µs p50',
    'decisions precise / partial / fallback',
  ];
  const rows: Cell[][] = [];
  try {
    const spec = { ...DEFAULT_SPECS['multi-turn'], thinkMs: 500 } as const;
    const rate = 12;
    for (const precise of flag('--precise-first') ? [true, false] : [false, true]) {
      const edit = (fleet: Record<string, unknown>): void => {
        if (!precise) return;
        const models = fleet['models'] as Array<Record<string, unknown>>;
        const m = models[0] as Record<string, unknown>;
        const eps = m['endpoints'] as string[];
        m['kv_events'] = {
          tokenizer: bundledTokenizerPath(),
          chat_template: template,
          endpoints: Object.fromEntries(eps.map((e, i) => [e, stack.sim.replicas[i]?.kvEventsAddress()])),
        };
      };
      const part = await stack.startRouted('hybrid_score', 1, undefined, { editFleet: edit });
      try {
        if (precise) {
          await waitFor('kvfleet subscribed', async () => {
            const v = (await (await fetch(`${part.kvfleet.adminUrl}/fleet`)).json()) as { kv_events?: Record<string, { replicas: Array<{ state: string }> }> };
            const reps = Object.values(v.kv_events ?? {})[0]?.replicas ?? [];
            return reps.length === replicas && reps.every((x) => x.state !== 'disconnected');
          });
        }
        // Empty caches for each run (the replicas publish AllBlocksCleared: the new subscriber trusts the stream from there).
        stack.resetReplicas();
        const workload = createWorkload(spec, { seed: 3, requests: Math.round(rate * seconds), rate });
        const { result, records } = await runLive(
          {
            target: part.url,
            metrics: stack.metricsUrls,
            workload,
            mode: { kind: 'open' },
            model: BENCH_MODEL_ID,
            durationMs: seconds * 1000 + 30_000,
            timeoutMs: 60_000,
            sessions: false,
          },
          precise ? 'precise' : 'approximate',
        );
        rows.push([
          precise ? 'precise (kv_events)' : 'approximate',
          result.requests,
          result.ok,
          result.hitRate !== undefined ? pct(result.hitRate) : '–',
          fmt(result.ttftMs.p50),
          fmt(result.ttftMs.p90),
          fmt(result.ttftMs.p99),
          result.imbalance !== undefined ? fmt(result.imbalance, 2) : '–',
          fmt(median(records.map((x) => x.decisionUs).filter((x): x is number => x !== undefined)), 0),
          precise ? await lookupModes(part.kvfleet.adminUrl) : '–',
        ]);
        process.stderr.write(`live ${precise ? 'precise' : 'approximate'} done\n`);
      } finally {
        await part.stop();
      }
    }
  } finally {
    await stack.close();
  }
  process.stdout.write(
    `\n## Live (${replicas} sims with --kv-events, 192-block caches, multi-turn at 12 req/s for ${seconds} s, no session ids, through Envoy)\n\n${textTable(head, rows)}\n`,
  );
}

async function main(): Promise<void> {
  if (!flag('--live-only')) runVirtualPart(num('--requests', 6000));
  if (!flag('--virtual-only')) await runLivePart(num('--seconds', 30));
}

void main().catch((e: unknown) => {
  process.stderr.write(`bench:kv-index failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
