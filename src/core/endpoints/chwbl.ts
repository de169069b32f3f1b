// Consistent hashing with bounded loads (Mirrokni et al.; KubeAI's CHWBL).
//   ring    = virtual_nodes points per endpoint at xxh64("<address>#<i>"), sorted
//   walk    = endpoints in the order first met going clockwise from the key's point
//   cap     = ceil(load_bound · (Σ load + 1) / n)      over the n usable endpoints
//   pick    = first endpoint in the walk with load + 1 ≤ cap
// The ring depends only on the addresses, so every kvfleet process places a
// first-seen prefix or session on the same endpoint without coordination.
// Rings are memoised per endpoint list (bounded: one per model, weakly held).
import { hashKey } from '../hash.js';

interface Ring {
  readonly points: Float64Array;
  /** owner[i] = index into `endpoints` of points[i]. */
  readonly owner: Uint16Array;
  readonly endpoints: readonly string[];
}

const rings = new WeakMap<readonly string[], Map<number, Ring>>();

function buildRing(endpoints: readonly string[], vnodes: number): Ring {
  const pts: Array<[number, number]> = [];
  endpoints.forEach((addr, e) => {
    for (let v = 0; v < vnodes; v++) pts.push([hashKey(`${addr}#${v}`), e]);
  });
  pts.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  return {
    points: Float64Array.from(pts, (p) => p[0]),
    owner: Uint16Array.from(pts, (p) => p[1]),
    endpoints,
  };
}

function ringFor(endpoints: readonly string[], vnodes: number): Ring {
  let byV = rings.get(endpoints);
  if (byV === undefined) {
    byV = new Map();
    rings.set(endpoints, byV);
  }
  let r = byV.get(vnodes);
  if (r === undefined) {
    r = buildRing(endpoints, Math.min(vnodes, Math.floor(65535 / Math.max(1, endpoints.length)) || 1));
    byV.set(vnodes, r);
  }
  return r;
}

/** Ring rank of each endpoint (index aligned with `endpoints`) for `key`: 0 = owner. Written into `out` when given. */
export function ringRanks(endpoints: readonly string[], key: number, vnodes: number, out?: Int32Array): Int32Array {
  const n = endpoints.length;
  const ranks = (out ?? new Int32Array(n)).fill(-1);
  if (n === 0) return ranks;
  const ring = ringFor(endpoints, vnodes);
  const pts = ring.points;
  let lo = 0;
  let hi = pts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((pts[mid] as number) < key) lo = mid + 1;
    else hi = mid;
  }
  // Clockwise from lo to the end, then from the start: no modulo per step.
  const owner = ring.owner;
  let seen = 0;
  for (let p = lo; p < pts.length && seen < n; p++) {
    const o = owner[p] as number;
    if (ranks[o] === -1) ranks[o] = seen++;
  }
  for (let p = 0; p < lo && seen < n; p++) {
    const o = owner[p] as number;
    if (ranks[o] === -1) ranks[o] = seen++;
  }
  return ranks;
}

/** The CHWBL capacity for one more request over `n` endpoints whose loads sum to `total`. */
export function loadCap(total: number, n: number, bound: number): number {
  if (n === 0) return 0;
  return Math.ceil((bound * (total + 1)) / n - 1e-9);
}
