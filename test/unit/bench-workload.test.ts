import { describe, expect, it } from 'vitest';
import { Zipf, rngFor } from '../../src/tools/bench/rand.js';
import { blockKeys, createWorkload, DEFAULT_SPECS, idealHitRate, type BenchRequest, type WorkloadSpec } from '../../src/tools/bench/workload.js';
import { chatMessages } from '../../src/tools/bench/text.js';

function take(spec: WorkloadSpec, seed: number, n: number): BenchRequest[] {
  const w = createWorkload(spec, { seed, requests: n, rate: 100 });
  const out: BenchRequest[] = [];
  for (let r = w.next(); r !== undefined; r = w.next()) out.push(r);
  return out;
}

describe('bench workloads', () => {
  for (const kind of ['shared-prefix', 'multi-turn', 'random'] as const) {
    it(`${kind}: the same seed gives the same stream, another seed another`, () => {
      const a = take(DEFAULT_SPECS[kind], 7, 300);
      const b = take(DEFAULT_SPECS[kind], 7, 300);
      const c = take(DEFAULT_SPECS[kind], 8, 300);
      expect(a).toHaveLength(300);
      expect(b).toEqual(a);
      expect(c).not.toEqual(a);
      for (let i = 1; i < a.length; i++) expect((a[i] as BenchRequest).arrivalMs).toBeGreaterThanOrEqual((a[i - 1] as BenchRequest).arrivalMs);
    });
  }

  it('Zipf draws follow 1/(k+1)^s', () => {
    const z = new Zipf(16, 1);
    const rng = rngFor(3, 0);
    const counts = new Array<number>(16).fill(0);
    const n = 200_000;
    for (let i = 0; i < n; i++) counts[z.draw(rng)]! += 1;
    const h16 = Array.from({ length: 16 }, (_, k) => 1 / (k + 1)).reduce((x, y) => x + y, 0);
    for (let k = 0; k < 16; k++) {
      const expected = 1 / (k + 1) / h16;
      expect(z.p(k)).toBeCloseTo(expected, 12);
      expect(Math.abs((counts[k] as number) / n - expected)).toBeLessThan(0.01);
    }
    expect(counts[0]! / counts[1]!).toBeGreaterThan(1.8);
    expect(counts[0]! / counts[1]!).toBeLessThan(2.2);
    const uniform = new Zipf(4, 0);
    for (let k = 0; k < 4; k++) expect(uniform.p(k)).toBeCloseTo(0.25, 12);
  });

  it('shared-prefix: requests of one group share the system blocks and differ after them', () => {
    const reqs = take(DEFAULT_SPECS['shared-prefix'], 1, 400);
    const spec = DEFAULT_SPECS['shared-prefix'];
    if (spec.kind !== 'shared-prefix') throw new Error('spec');
    const sysBlocks = spec.systemTokens / 16;
    const byGroup = new Map<number, BenchRequest[]>();
    for (const r of reqs) byGroup.set(r.group, [...(byGroup.get(r.group) ?? []), r]);
    const [x, y] = [...byGroup.values()].find((g) => g.length >= 2 && g[0]!.spans[1]!.src !== g[1]!.spans[1]!.src)!;
    const kx = blockKeys(x!.spans, 16);
    const ky = blockKeys(y!.spans, 16);
    expect(Array.from(kx.subarray(0, sysBlocks))).toEqual(Array.from(ky.subarray(0, sysBlocks)));
    expect(kx[sysBlocks]).not.toBe(ky[sysBlocks]);
    // group popularity is Zipf: group 0 is the most requested
    const sizes = [...byGroup.entries()].sort((a, b) => b[1].length - a[1].length);
    expect(sizes[0]![0]).toBe(0);
  });

  it('multi-turn: turn t+1 extends turn t (blocks and text)', () => {
    const reqs = take(DEFAULT_SPECS['multi-turn'], 2, 2000);
    const conv = reqs.filter((r) => r.session === reqs[0]!.session);
    expect(conv.length).toBeGreaterThanOrEqual(3);
    for (let t = 1; t < conv.length; t++) {
      const a = blockKeys(conv[t - 1]!.spans, 16);
      const b = blockKeys(conv[t]!.spans, 16);
      expect(b.length).toBeGreaterThan(a.length);
      expect(Array.from(b.subarray(0, a.length))).toEqual(Array.from(a));
      const ta = chatMessages(conv[t - 1]!.spans).map((m) => m.content);
      const tb = chatMessages(conv[t]!.spans).map((m) => m.content);
      expect(tb[0]).toBe(ta[0]);
      expect(tb[1]!.startsWith(ta[1]!)).toBe(true);
    }
  });

  it('random prompts share nothing; the ceiling is 0', () => {
    const spec = DEFAULT_SPECS.random;
    expect(idealHitRate(createWorkload(spec, { seed: 1, requests: 200, rate: 10 }), 16).rate).toBe(0);
  });

  it('ideal ceiling of a tiny hand-checked stream', () => {
    // 2 groups × 1 prompt, 32-token system + 16-token question = 48 tokens = 3 blocks of 16.
    // First request of a group: 0 hits; repeats: min(3, floor(47/16) = 2) blocks = 32 tokens.
    const spec: WorkloadSpec = { kind: 'shared-prefix', groups: 2, promptsPerGroup: 1, systemTokens: 32, questionTokens: 16, outputTokens: 1, zipf: 0 };
    const reqs = take(spec, 5, 10);
    const distinct = new Set(reqs.map((r) => r.group)).size;
    const expected = ((reqs.length - distinct) * 32) / (reqs.length * 48);
    expect(idealHitRate(createWorkload(spec, { seed: 5, requests: 10, rate: 100 }), 16).rate).toBeCloseTo(expected, 12);
  });
});
