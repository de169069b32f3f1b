// Named benchmark scenarios: a workload, a replica model and an arrival process. The same
// definitions drive the virtual-time runs and (time-scaled) the live runs, so their rankings
// can be compared.
//   load      offered work / fleet capacity, with capacity counted COLD (no prefix hits):
//             replicas · maxConcurrency / (prompt · prefill + (output − 1) · decode).
//             Cache hits make the real utilisation lower; each result reports it.
import { defaultSimOptions } from '../sim/index.js';
import type { Arrivals, ReplicaModel } from './des.js';
import { createWorkload, DEFAULT_SPECS, type StreamSpec, type WorkloadSpec } from './workload.js';

export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly spec: WorkloadSpec;
  readonly model: ReplicaModel;
  readonly arrivals: Arrivals;
  readonly requests: number;
  /** Offered load (cold capacity) for open-loop arrivals. */
  readonly load: number;
  readonly seed: number;
}

export function simModel(partial: Partial<ReplicaModel> = {}): ReplicaModel {
  const d = defaultSimOptions;
  return {
    replicas: 8,
    blockTokens: d.blockTokens,
    charsPerToken: d.charsPerToken,
    cacheBlocks: d.cacheBlocks,
    prefillUsPerToken: d.prefillUsPerToken,
    decodeMsPerToken: d.decodeMsPerToken,
    maxConcurrency: d.maxConcurrency,
    maxWaiting: d.maxWaiting,
    ...partial,
  };
}

/** Mean prompt and output tokens of a workload spec (multi-turn: averaged over turns). */
export function meanTokens(spec: WorkloadSpec): { prompt: number; output: number } {
  switch (spec.kind) {
    case 'shared-prefix':
      return { prompt: spec.systemTokens + spec.questionTokens, output: spec.outputTokens };
    case 'random':
      return { prompt: spec.promptTokens, output: spec.outputTokens };
    case 'adversarial': {
      // Measured on the stream itself (deterministic): sizes are heavy-tailed and follow-ups grow.
      const w = createWorkload(spec, { seed: 99, requests: 4000, rate: 1 });
      let n = 0;
      let sum = 0;
      for (let r = w.next(); r !== undefined; r = w.next()) {
        n++;
        sum += r.promptTokens;
      }
      return { prompt: sum / Math.max(1, n), output: spec.outputTokens };
    }
    case 'multi-turn': {
      // history before turn t (0-based): t · (turnTokens + outputTokens), plus the new turn
      const meanHistory = ((spec.turns - 1) / 2) * (spec.turnTokens + spec.outputTokens) + spec.turnTokens;
      return { prompt: spec.systemTokens + meanHistory, output: spec.outputTokens };
    }
  }
}

/** Fleet capacity in requests/s with no prefix hits. */
export function coldCapacity(spec: WorkloadSpec, m: ReplicaModel): number {
  const t = meanTokens(spec);
  const serviceMs = (t.prompt * m.prefillUsPerToken) / 1000 + Math.max(0, t.output - 1) * m.decodeMsPerToken;
  return (m.replicas * m.maxConcurrency * 1000) / serviceMs;
}

export function streamOf(s: Scenario): StreamSpec {
  return { seed: s.seed, requests: s.requests, rate: s.load * coldCapacity(s.spec, s.model) };
}

/** Distinct system-prompt blocks of a shared-prefix spec. */
function prefixBlocks(groups: number, systemTokens: number, blockTokens: number): number {
  return groups * Math.floor(systemTokens / blockTokens);
}

export interface ScenarioOptions {
  readonly requests?: number;
  readonly replicas?: number;
  readonly load?: number;
  readonly seed?: number;
}

const BT = defaultSimOptions.blockTokens;

export function scenario(name: ScenarioName, o: ScenarioOptions = {}): Scenario {
  // What every scenario shares: open-loop arrivals at 70 % of cold capacity, seed 1.
  const common = (requests: number) => ({ arrivals: { mode: 'open' } as const, requests: o.requests ?? requests, load: o.load ?? 0.7, seed: o.seed ?? 1 });
  switch (name) {
    case 'shared-prefix': {
      // Issue 5 target: 8 replicas, each cache holding ~¼ of the distinct system prefixes, ~70 % load.
      const spec = DEFAULT_SPECS['shared-prefix'];
      if (spec.kind !== 'shared-prefix') throw new Error('unreachable');
      const replicas = o.replicas ?? 8;
      return {
        name,
        description: `${spec.groups} groups × ${spec.promptsPerGroup} prompts, system ${spec.systemTokens} + question ${spec.questionTokens} tokens, output ${spec.outputTokens}, Zipf ${spec.zipf}; ${replicas} replicas, each cache = ¼ of the distinct prefixes`,
        spec,
        model: simModel({ replicas, cacheBlocks: Math.ceil(prefixBlocks(spec.groups, spec.systemTokens, BT) / 4) }),
        ...common(20_000),
      };
    }
    case 'multi-turn': {
      const spec = DEFAULT_SPECS['multi-turn'];
      const replicas = o.replicas ?? 8;
      return {
        name,
        description: 'conversations of 6 turns over 8 shared system prompts (256 tokens), +96 user +16 reply tokens per turn, think time 2 s; 8 replicas',
        spec,
        model: simModel({ replicas, cacheBlocks: 1024 }),
        ...common(20_000),
      };
    }
    case 'no-sharing': {
      const spec = DEFAULT_SPECS.random;
      const replicas = o.replicas ?? 8;
      return {
        name,
        description: `fresh ${(spec as { promptTokens: number }).promptTokens}-token prompts, output ${spec.kind === 'random' ? spec.outputTokens : 0}; ${replicas} replicas`,
        spec,
        model: simModel({ replicas, cacheBlocks: 1024 }),
        ...common(20_000),
      };
    }
    case 'adversarial-scale': {
      // Issue 14 item 6: the adversarial workload on 1,000 replicas × 1,000,000 requests.
      const a = scenario('adversarial', { ...o, replicas: o.replicas ?? 1000, requests: o.requests ?? 1_000_000 });
      return { ...a, name };
    }
    case 'adversarial': {
      // Issue 14: long real-world-shaped traffic at 95 % load, caches of about one GPU's KV each.
      const replicas = o.replicas ?? 16;
      const base = DEFAULT_SPECS.adversarial;
      if (base.kind !== 'adversarial') throw new Error('unreachable');
      // Follow-ups come from the latest 16 conversations per replica (at least 256): the same
      // seconds between a conversation's turns on 16 replicas as on 1,000.
      const spec: WorkloadSpec = { ...base, recentConversations: Math.max(base.recentConversations, 16 * replicas) };
      return {
        name,
        description: `every prompt starts with one shared 64-token block; 1k–90k tokens (90 % under 8k); 40 % follow-up turns without session ids (of the latest ${Math.max(256, 16 * replicas)} conversations); bursts ±50 % every 5 s; ${replicas} replicas, 64k tokens of KV cache each`,
        spec,
        model: simModel({ replicas, cacheBlocks: Math.ceil(65_536 / BT), maxWaiting: 1_000_000 }),
        arrivals: { mode: 'open' } as const,
        requests: o.requests ?? 8000,
        load: o.load ?? 0.95,
        seed: o.seed ?? 1,
      };
    }
    case 'scale': {
      // Internet-scale check: 1,000 replicas × 1,000,000 requests of shared-prefix traffic.
      const replicas = o.replicas ?? 1000;
      const groups = 8 * replicas;
      const spec: WorkloadSpec = { kind: 'shared-prefix', groups, promptsPerGroup: 16, systemTokens: 1024, questionTokens: 128, outputTokens: 16, zipf: 1.0 };
      return {
        name,
        description: `${groups} groups × 16 prompts (system 1024 + question 128 tokens, Zipf 1.0); ${replicas} replicas, each cache = 2 × its even share of the distinct prefixes (as in shared-prefix: 8 × ¼)`,
        spec,
        model: simModel({ replicas, cacheBlocks: Math.ceil((2 * prefixBlocks(groups, 1024, BT)) / replicas) }),
        ...common(1_000_000),
      };
    }
  }
}

export const SCENARIO_NAMES = ['shared-prefix', 'multi-turn', 'no-sharing', 'adversarial', 'scale', 'adversarial-scale'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];
