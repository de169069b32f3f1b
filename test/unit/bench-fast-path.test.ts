// The virtual benchmark's fast path (issue 14 item 6) changes speed, not results: the prompt
// text comes out of a faster generator and a memo, kvfleet's adapter renders only the part of
// the prompt its decision reads, and the adversarial workload keeps its recent conversations
// in a ring. Each is checked against the slow reference on small seeded runs.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { runDes, type DesResult } from '../../src/tools/bench/des.js';
import type { Policy, PolicyFactory } from '../../src/tools/bench/policy.js';
import { kvfleetFactory } from '../../src/tools/bench/policies/kvfleet.js';
import { scenario, streamOf, type Scenario } from '../../src/tools/bench/scenarios.js';
import { chatMessages, sourceText } from '../../src/tools/bench/text.js';
import { createWorkload, SRC_ADVERSARIAL, SRC_COMMON, SRC_SYSTEM, type Span } from '../../src/tools/bench/workload.js';

/** The generator as it was: one string per token, letters appended one at a time. */
function referenceText(src: number, tokens: number, charsPerToken: number, from = 0): string {
  const mix = (a: number, b: number): number => {
    let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ b;
    h = Math.imul(h ^ (h >>> 16), 0xc2b2ae35);
    return (h ^ (h >>> 13)) >>> 0;
  };
  const seed = mix(src >>> 0, Math.floor(src / 4294967296));
  const parts: string[] = [];
  for (let j = from; j < tokens; j++) {
    let h = mix(seed, j);
    let t = '';
    for (let c = 0; c < charsPerToken - 1; c++) {
      t += 'abcdefghijklmnopqrstuvwxyz'.charAt(h % 26);
      h = Math.floor(h / 26) || mix(h, c);
    }
    parts.push(`${t} `);
  }
  return parts.join('');
}

/** A policy that records every pick it makes. */
function recording(f: PolicyFactory, picks: number[]): PolicyFactory {
  return {
    name: f.name,
    create(env): Policy {
      const p = f.create(env);
      return {
        name: p.name,
        pick(r, fleet, now, out) {
          const k = p.pick(r, fleet, now, out);
          picks.push(out[0] as number);
          return k;
        },
        onComplete: p.onComplete?.bind(p),
      };
    },
  };
}

function run(s: Scenario, f: PolicyFactory): { result: DesResult; picks: number[] } {
  const picks: number[] = [];
  const result = runDes(recording(f, picks), createWorkload(s.spec, streamOf(s)), { model: s.model, arrivals: s.arrivals, seed: s.seed });
  return { result: { ...result, wallMs: 0, cpuMs: 0 }, picks };
}

describe('virtual benchmark fast path', () => {
  it('prompt text is the reference generator’s, whatever order sources are asked for in (memo extended, sliced, evicted)', () => {
    const srcs = [SRC_COMMON, SRC_SYSTEM + 3, SRC_ADVERSARIAL + 12_345, SRC_ADVERSARIAL + 2 ** 30 + 7];
    for (const cpt of [4, 3]) {
      for (const src of srcs) {
        for (const tokens of [5, 1, 700, 64, 2000, 2000, 3]) expect(sourceText(src, tokens, cpt)).toBe(referenceText(src, tokens, cpt));
      }
    }
  });

  it('prompt text is the reference generator’s where a token’s hash is too small for three base-26 digits (the re-mixed letters)', () => {
    // mix(seed of source 7, 4,858,487) = 39 < 26²: the table path hands this token to the per-letter rule.
    const at = 4_858_487;
    const text = sourceText(7, at + 3, 4);
    expect(text.slice(4 * (at - 2))).toBe(referenceText(7, at + 3, 4, at - 2));
  });

  it('chat messages with a character limit are a prefix of the whole ones, as many messages, at least the limit long', () => {
    const spans: Span[] = [
      { src: SRC_COMMON, tokens: 64, role: 'system' },
      { src: SRC_ADVERSARIAL + 99, tokens: 5000, role: 'user' },
    ];
    const whole = chatMessages(spans, 4);
    for (const limit of [10, 256, 257, 4000, 30_000]) {
      const cut = chatMessages(spans, 4, limit);
      expect(cut.map((m) => m.role)).toEqual(whole.map((m) => m.role));
      let chars = 0;
      cut.forEach((m, i) => {
        expect((whole[i] as { content: string }).content.startsWith(m.content)).toBe(true);
        chars += m.content.length;
      });
      expect(chars).toBeGreaterThanOrEqual(Math.min(limit, 5064 * 4));
    }
  });

  for (const [name, affinity] of [
    ['default affinity', undefined],
    ['max_blocks 8 (almost every prompt cut)', { max_blocks: 8 }],
  ] as const) {
    it(`kvfleet decides the same with only the text its decision reads as with the whole prompt (${name}; adversarial and multi-turn, seeded)`, () => {
      for (const s of [
        scenario('adversarial', { replicas: 16, requests: 600, seed: 5 }),
        scenario('adversarial', { replicas: 8, load: 0.7, requests: 400, seed: 2 }),
        scenario('multi-turn', { replicas: 8, requests: 600, seed: 3 }),
      ]) {
        const fast = run(s, kvfleetFactory({ label: 'kvfleet', affinity }));
        const slow = run(s, kvfleetFactory({ label: 'kvfleet', affinity, fullText: true }));
        expect(fast.picks).toEqual(slow.picks);
        expect(fast.result).toEqual(slow.result);
        expect(new Set(fast.picks).size).toBeGreaterThan(1);
      }
    });
  }

  it('the adversarial stream on 16 replicas is the one the array-shift version made (recent-conversation ring)', () => {
    // Digest of the stream made before the ring (latest 256 conversations in an array, push +
    // shift; commit ab90672): spans and arrival times of 3,000 requests, seed 9.
    const s = scenario('adversarial', { replicas: 16, requests: 3000, seed: 9 });
    const w = createWorkload(s.spec, streamOf(s));
    const h = createHash('sha256');
    let followUps = 0;
    const convs = new Set<number>();
    for (let r = w.next(); r !== undefined; r = w.next()) {
      h.update(`${r.spans.map((x) => `${x.src}/${x.tokens}`).join(',')}@${r.arrivalMs}\n`);
      const conv = (r.spans[1] as Span).src;
      if (convs.has(conv)) followUps++;
      convs.add(conv);
    }
    expect(h.digest('hex')).toBe('1715e341ed2f944488a51c997cd03fb1f0772365b427f3ec2d5b8d20bf06aac4');
    expect(followUps / 3000).toBeGreaterThan(0.3);
  });
});
