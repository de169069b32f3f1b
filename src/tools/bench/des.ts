// Virtual-time benchmark: a discrete-event simulation of the simulator's replica model
// (src/sim: FIFO admission with maxConcurrency running slots, prefix-cache lookup at
// admission, prefill = uncached prompt tokens × prefillUsPerToken, blocks inserted at the first
// token, then (output − 1) × decodeMsPerToken of decode before the slot is released).
// No sockets, no timers, no wall clock inside: deterministic for a seed.
//   events   ARRIVAL → (queue) → ADMIT → FIRST_TOKEN → COMPLETE, in a binary heap
//   requests struct slots recycled through a free list; the hot path allocates only one
//            key array per request
import { BlockCache } from './block-cache.js';
import { EventHeap } from './event-heap.js';
import type { FleetView, Policy, PolicyEnv, PolicyFactory, RoutedRequest } from './policy.js';
import { blockKeys, type BenchRequest, type Workload } from './workload.js';

export interface ReplicaModel {
  readonly replicas: number;
  readonly blockTokens: number;
  readonly charsPerToken: number;
  readonly cacheBlocks: number;
  readonly prefillUsPerToken: number;
  readonly decodeMsPerToken: number;
  readonly maxConcurrency: number;
  readonly maxWaiting: number;
}

export type Arrivals = { readonly mode: 'open' } | { readonly mode: 'closed'; readonly concurrency: number };

export interface DesOptions {
  readonly model: ReplicaModel;
  readonly arrivals: Arrivals;
  readonly seed: number;
  /** Collect per-request TTFT samples (needed for percentiles). */
  readonly keepSamples?: boolean;
}

export interface Dist {
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export interface DesResult {
  readonly policy: string;
  readonly requests: number;
  readonly completed: number;
  /** Refused at a full waiting queue (the sim answers 503). */
  readonly rejected: number;
  readonly hitTokens: number;
  readonly promptTokens: number;
  /** Fleet-wide prefix hit rate in tokens (hits / queries, like vllm:prefix_cache_*). */
  readonly hitRate: number;
  readonly ttftMs: Dist;
  readonly e2eMs: Dist;
  /** Virtual duration, ms, and completed requests per virtual second. */
  readonly virtualMs: number;
  readonly throughput: number;
  /** Per replica: requests served, time-averaged requests at the replica (running + waiting), peak. */
  readonly perReplica: { readonly requests: number[]; readonly meanInflight: number[]; readonly peakInflight: number[] };
  /** max / mean over replicas of the time-averaged in-flight. */
  readonly imbalance: number;
  readonly events: number;
  /** Wall time of the run, ms (not part of the deterministic result). */
  readonly wallMs: number;
  /** CPU time of this process during the run (user + system, every thread), ms: steadier than wall time on a shared machine. */
  readonly cpuMs: number;
}

const ARRIVAL = 0;
const FIRST_TOKEN = 1;
const COMPLETE = 2;

/** CPU ms (user + system) this process used since `start` (process.cpuUsage()). */
export function cpuMsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

export function addresses(n: number): string[] {
  const out = new Array<string>(n);
  for (let r = 0; r < n; r++) out[r] = `10.${(r >> 16) & 255}.${(r >> 8) & 255}.${r & 255}:8000`;
  return out;
}

export function policyEnv(model: ReplicaModel, seed: number): PolicyEnv {
  return {
    replicas: model.replicas,
    seed,
    addresses: addresses(model.replicas),
    blockTokens: model.blockTokens,
    cacheBlocks: model.cacheBlocks,
    maxConcurrency: model.maxConcurrency,
    prefillUsPerToken: model.prefillUsPerToken,
    charsPerToken: model.charsPerToken,
  };
}

export function distOf(samples: Float64Array, n: number): Dist {
  if (n === 0) return { mean: 0, p50: 0, p90: 0, p99: 0, max: 0 };
  const s = samples.subarray(0, n).slice().sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += s[i] as number;
  const q = (p: number) => s[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))] as number;
  return { mean: sum / n, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: s[n - 1] as number };
}

interface Slot {
  routed: RoutedRequest;
  replica: number;
  arrival: number;
  firstToken: number;
}

/** Run one policy over one workload on a fresh fleet (empty caches). */
export function runDes(policyFactory: PolicyFactory, workload: Workload, opts: DesOptions): DesResult {
  const wallStart = performance.now();
  const cpuStart = process.cpuUsage();
  const m = opts.model;
  const n = m.replicas;
  const env = policyEnv(m, opts.seed);
  const policy: Policy = policyFactory.create(env);
  const caches: BlockCache[] = [];
  for (let r = 0; r < n; r++) caches.push(new BlockCache(m.cacheBlocks, m.blockTokens));
  const inflight = new Int32Array(n);
  const running = new Int32Array(n);
  const waiting = new Int32Array(n);
  const kvBlocksInUse = new Int32Array(n);
  const view: FleetView = {
    n,
    inflight,
    running,
    waiting,
    kvBlocksInUse,
    cacheBlocks: m.cacheBlocks,
    blockTokens: m.blockTokens,
    maxConcurrency: m.maxConcurrency,
    addresses: env.addresses,
    caches,
  };
  // per-replica FIFO of slots (linked through nextInQ)
  const qHead = new Int32Array(n).fill(-1);
  const qTail = new Int32Array(n).fill(-1);
  const nextInQ: number[] = [];
  const slots: Array<Slot | undefined> = [];
  const free: number[] = [];
  // time-averaged in-flight per replica
  const area = new Float64Array(n);
  const lastChange = new Float64Array(n);
  const peak = new Int32Array(n);
  const served = new Int32Array(n);

  const heap = new EventHeap(4096);
  const out = new Int32Array(Math.max(8, n));
  const keep = opts.keepSamples !== false;
  let ttft = new Float64Array(keep ? 1 << 16 : 0);
  let e2e = new Float64Array(keep ? 1 << 16 : 0);
  let samples = 0;
  let completed = 0;
  let rejected = 0;
  let issued = 0;
  let hitTokens = 0;
  let promptTokens = 0;
  let events = 0;
  let now = 0;
  let firstArrival = Number.NaN;

  const touch = (r: number): void => {
    area[r] = (area[r] as number) + (inflight[r] as number) * (now - (lastChange[r] as number));
    lastChange[r] = now;
  };

  const newSlot = (routed: RoutedRequest, arrival: number): number => {
    const s: Slot = { routed, replica: -1, arrival, firstToken: 0 };
    const id = free.pop();
    if (id !== undefined) {
      slots[id] = s;
      return id;
    }
    slots.push(s);
    nextInQ.push(-1);
    return slots.length - 1;
  };

  const admit = (id: number, r: number): void => {
    const s = slots[id] as Slot;
    const req = s.routed.req;
    running[r] = (running[r] as number) + 1;
    kvBlocksInUse[r] = (kvBlocksInUse[r] as number) + Math.ceil((req.promptTokens + req.outputTokens) / m.blockTokens);
    const cached = (caches[r] as BlockCache).lookup(s.routed.keys, req.promptTokens);
    hitTokens += cached;
    promptTokens += req.promptTokens;
    const prefillMs = ((req.promptTokens - cached) * m.prefillUsPerToken) / 1000;
    heap.push(now + prefillMs, id * 4 + FIRST_TOKEN);
  };

  const issue = (req: BenchRequest, at: number): void => {
    issued++;
    const routed: RoutedRequest = { req, keys: blockKeys(req.spans, m.blockTokens) };
    const id = newSlot(routed, at);
    heap.push(at, id * 4 + ARRIVAL);
  };

  // Seed the arrivals.
  if (opts.arrivals.mode === 'open') {
    const r0 = workload.next();
    if (r0 !== undefined) issue(r0, r0.arrivalMs);
  } else {
    for (let c = 0; c < opts.arrivals.concurrency; c++) {
      const r = workload.next();
      if (r === undefined) break;
      issue(r, 0);
    }
  }
  const open = opts.arrivals.mode === 'open';

  while (heap.size > 0) {
    now = heap.peekTime() as number;
    const ev = heap.pop();
    events++;
    const id = ev >> 2;
    const type = ev & 3;
    const s = slots[id] as Slot;
    if (type === ARRIVAL) {
      if (Number.isNaN(firstArrival)) firstArrival = now;
      if (open) {
        const nx = workload.next();
        if (nx !== undefined) issue(nx, nx.arrivalMs);
      }
      const k = policy.pick(s.routed, view, now, out);
      const r = k > 0 ? (out[0] as number) : 0;
      s.replica = r;
      if ((running[r] as number) < m.maxConcurrency && (waiting[r] as number) === 0) {
        touch(r);
        inflight[r] = (inflight[r] as number) + 1;
        if (inflight[r] > (peak[r] as number)) peak[r] = inflight[r];
        admit(id, r);
      } else if ((waiting[r] as number) >= m.maxWaiting) {
        rejected++;
        policy.onComplete?.(s.routed, r, now, Number.NaN);
        slots[id] = undefined;
        free.push(id);
        if (!open) {
          const nx = workload.next();
          if (nx !== undefined) issue(nx, now);
        }
      } else {
        touch(r);
        inflight[r] = (inflight[r] as number) + 1;
        if (inflight[r] > (peak[r] as number)) peak[r] = inflight[r];
        waiting[r] = (waiting[r] as number) + 1;
        nextInQ[id] = -1;
        if ((qTail[r] as number) >= 0) nextInQ[qTail[r] as number] = id;
        else qHead[r] = id;
        qTail[r] = id;
      }
    } else if (type === FIRST_TOKEN) {
      const r = s.replica;
      (caches[r] as BlockCache).insert(s.routed.keys);
      s.firstToken = now;
      heap.push(now + Math.max(0, s.routed.req.outputTokens - 1) * m.decodeMsPerToken, id * 4 + COMPLETE);
    } else {
      const r = s.replica;
      const req = s.routed.req;
      touch(r);
      inflight[r] = (inflight[r] as number) - 1;
      running[r] = (running[r] as number) - 1;
      kvBlocksInUse[r] = (kvBlocksInUse[r] as number) - Math.ceil((req.promptTokens + req.outputTokens) / m.blockTokens);
      served[r] = (served[r] as number) + 1;
      completed++;
      const t1 = s.firstToken - s.arrival;
      if (keep) {
        if (samples === ttft.length) {
          const a = new Float64Array(samples * 2);
          a.set(ttft);
          ttft = a;
          const b = new Float64Array(samples * 2);
          b.set(e2e);
          e2e = b;
        }
        ttft[samples] = t1;
        e2e[samples] = now - s.arrival;
        samples++;
      }
      policy.onComplete?.(s.routed, r, now, t1);
      slots[id] = undefined;
      free.push(id);
      // next waiting request on this replica takes the slot
      const w = qHead[r] as number;
      if (w >= 0) {
        qHead[r] = nextInQ[w] as number;
        if (qHead[r] === -1) qTail[r] = -1;
        waiting[r] = (waiting[r] as number) - 1;
        admit(w, r);
      }
      if (!open) {
        const nx = workload.next();
        if (nx !== undefined) issue(nx, now);
      }
    }
  }

  const start = Number.isNaN(firstArrival) ? 0 : firstArrival;
  const virtualMs = Math.max(0, now - start);
  const meanInflight: number[] = [];
  let sumMean = 0;
  let maxMean = 0;
  for (let r = 0; r < n; r++) {
    touch(r);
    const v = virtualMs > 0 ? (area[r] as number) / virtualMs : 0;
    meanInflight.push(v);
    sumMean += v;
    if (v > maxMean) maxMean = v;
  }
  return {
    policy: policy.name,
    requests: issued,
    completed,
    rejected,
    hitTokens,
    promptTokens,
    hitRate: promptTokens > 0 ? hitTokens / promptTokens : 0,
    ttftMs: distOf(ttft, samples),
    e2eMs: distOf(e2e, samples),
    virtualMs,
    throughput: virtualMs > 0 ? (completed * 1000) / virtualMs : 0,
    perReplica: { requests: Array.from(served), meanInflight, peakInflight: Array.from(peak) },
    imbalance: sumMean > 0 ? maxMean / (sumMean / n) : 1,
    events,
    wallMs: performance.now() - wallStart,
    cpuMs: cpuMsSince(cpuStart),
  };
}
