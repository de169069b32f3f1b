// Baseline routing policies for the virtual-time benchmark, each as its anchor describes it.
//   round_robin   rotation over the replicas.
//   random        uniform (seeded, the project's sfc32 RNG).
//   least_loaded  fewest requests in flight (router's own count); ties take turns.
//   chwbl         consistent hashing with bounded loads (KubeAI): key = the prompt's first
//                 block; walk the ring from the key, first replica with load + 1 ≤
//                 ceil(bound · (Σ load + 1) / n). Uses the core's ring and cap
//                 (src/core/endpoints/chwbl.ts), bound 1.25, 100 virtual nodes.
import { loadCap, ringRanks } from '../../../core/endpoints/chwbl.js';
import { seededRng } from '../../../core/rng.js';
import type { FleetView, Policy, PolicyEnv, PolicyFactory, RoutedRequest } from '../policy.js';

export const roundRobin: PolicyFactory = {
  name: 'round_robin',
  create(): Policy {
    let next = 0;
    return {
      name: 'round_robin',
      pick(_r, fleet, _now, out) {
        out[0] = next % fleet.n;
        next = (next + 1) % fleet.n;
        return 1;
      },
    };
  },
};

export const randomPolicy: PolicyFactory = {
  name: 'random',
  create(env: PolicyEnv): Policy {
    const rng = seededRng(env.seed ^ 0x5eed);
    return {
      name: 'random',
      pick(_r, fleet, _now, out) {
        out[0] = Math.min(fleet.n - 1, Math.floor(rng.next() * fleet.n));
        return 1;
      },
    };
  },
};

/** Index of the least-loaded replica, scanning from `start` so ties rotate. */
export function leastLoadedFrom(load: Int32Array, n: number, start: number): number {
  let best = start % n;
  let bestLoad = load[best] as number;
  for (let k = 1; k < n; k++) {
    const r = (start + k) % n;
    const l = load[r] as number;
    if (l < bestLoad) {
      best = r;
      bestLoad = l;
    }
  }
  return best;
}

export const leastLoaded: PolicyFactory = {
  name: 'least_loaded',
  create(): Policy {
    let turn = 0;
    return {
      name: 'least_loaded',
      pick(_r, fleet, _now, out) {
        out[0] = leastLoadedFrom(fleet.inflight, fleet.n, turn);
        turn = (turn + 1) % fleet.n;
        return 1;
      },
    };
  },
};

export function chwblFactory(bound = 1.25, virtualNodes = 100): PolicyFactory {
  return {
    name: 'chwbl',
    create(env: PolicyEnv): Policy {
      const addrs = env.addresses;
      return {
        name: 'chwbl',
        pick(r: RoutedRequest, fleet: FleetView, _now, out) {
          const n = fleet.n;
          let total = 0;
          for (let i = 0; i < n; i++) total += fleet.inflight[i] as number;
          const cap = loadCap(total, n, bound);
          // Prompts shorter than one block hash their id (no prefix to share).
          const key = r.keys.length > 0 ? (r.keys[0] as number) : (r.req.id * 2654435761) % 2 ** 52;
          const ranks = ringRanks(addrs, key, virtualNodes);
          let best = -1;
          let bestRank = Infinity;
          for (let i = 0; i < n; i++) {
            const rank = ranks[i] as number;
            if ((fleet.inflight[i] as number) + 1 <= cap && rank < bestRank) {
              best = i;
              bestRank = rank;
            }
          }
          out[0] = best >= 0 ? best : leastLoadedFrom(fleet.inflight, n, 0);
          return 1;
        },
      };
    },
  };
}
