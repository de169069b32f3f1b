import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecisionRing } from '../../src/core/learned/decision-ring.js';
import { PrefixIndex } from '../../src/core/learned/prefix-index.js';
import { SessionPins } from '../../src/core/learned/session-pins.js';
import { BanditStats } from '../../src/core/learned/bandit-stats.js';

describe('prefix index', () => {
  it('stays within its capacity per endpoint under a stream of unique prompts (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 200 }),
        fc.integer({ min: 1, max: 5 }),
        (cap, lens, eps) => {
          const idx = new PrefixIndex(3);
          let next = 1;
          lens.forEach((len, i) => {
            const keys = Float64Array.from({ length: len }, () => next++);
            idx.record(`e${i % eps}`, keys, len, cap);
            for (let e = 0; e < eps; e++) expect(idx.size(`e${e}`)).toBeLessThanOrEqual(cap);
          });
          const s = idx.stats();
          expect(s.endpoints).toBeLessThanOrEqual(3);
          expect(s.blocks).toBeLessThanOrEqual(cap * 3);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps what it holds of any chain a prefix under eviction, so binary-search matching equals a linear scan (property)', () => {
    // Chains as the fingerprint builds them: key i stands for the whole prefix up to block i,
    // so conversations that share k blocks share their first k keys.
    const chainOf = (tree: number[], len: number) => Array.from({ length: len }, (_, i) => (tree[i] as number) * 1000 + i);
    const linear = (idx: PrefixIndex, keys: number[]) => {
      let i = 0;
      while (i < keys.length && idx.match('e', [keys[i] as number], 1) === 1) i++; // presence of key i alone
      return i;
    };
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 60 }),
        fc.array(fc.tuple(fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 30, maxLength: 30 }), fc.integer({ min: 1, max: 30 })), {
          minLength: 1,
          maxLength: 60,
        }),
        (cap, prompts) => {
          const idx = new PrefixIndex(4);
          for (const [tree, len] of prompts) {
            // prefix-closed ids: a chain's id at i depends on its whole prefix
            const ids: number[] = [];
            let acc = 0;
            for (const t of tree) ids.push((acc = acc * 3 + t + 1) % 1_000_003);
            idx.record('e', chainOf(ids, len), len, cap);
          }
          for (const [tree, len] of prompts) {
            const ids: number[] = [];
            let acc = 0;
            for (const t of tree) ids.push((acc = acc * 3 + t + 1) % 1_000_003);
            const keys = chainOf(ids, len);
            expect(idx.match('e', keys, len)).toBe(linear(idx, keys));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the reverse root index names exactly the endpoints that can match a prompt, through eviction and forgetting (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 12 }), fc.boolean()), {
          minLength: 1,
          maxLength: 120,
        }),
        (cap, ops) => {
          const idx = new PrefixIndex(3);
          const chain = (root: number, len: number) => Array.from({ length: len }, (_, i) => root * 100 + i);
          for (const [ep, root, len, forget] of ops) {
            if (forget && ep === 4) idx.forget('e0');
            else idx.record(`e${ep}`, chain(root, len), len, cap);
          }
          for (let root = 0; root <= 5; root++) {
            const keys = chain(root, 12);
            const holders = new Set(idx.holders(keys[0] as number) ?? []);
            for (let ep = 0; ep <= 4; ep++) expect(holders.has(`e${ep}`)).toBe(idx.match(`e${ep}`, keys, 12) > 0);
          }
          expect(idx.stats().roots).toBeLessThanOrEqual(6);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('with one shared first block, a root holder outside the block-1 holders matches exactly 1 block (property: eviction, forgetting)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 12 }), fc.boolean()), {
          minLength: 1,
          maxLength: 120,
        }),
        (cap, ops) => {
          const idx = new PrefixIndex(4);
          // Every prompt starts with block 7 (a shared preamble); conversations differ from block 1.
          const chain = (conv: number, len: number) => Array.from({ length: len }, (_, i) => (i === 0 ? 7 : 1000 + conv * 100 + i));
          for (const [ep, conv, len, forget] of ops) {
            if (forget && ep === 4) idx.forget('e0');
            else idx.record(`e${ep}`, chain(conv, len), len, cap);
          }
          for (let conv = 0; conv <= 6; conv++) {
            const keys = chain(conv, 12);
            const roots = new Set(idx.holders(7) ?? []);
            const deeper = new Set(idx.secondHolders(keys[1] as number) ?? []);
            for (let ep = 0; ep <= 4; ep++) {
              const e = `e${ep}`;
              const m = idx.match(e, keys, 12);
              const shortcut = !roots.has(e) ? 0 : deeper.has(e) ? m : 1;
              expect(shortcut).toBe(m);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('matches the leading blocks, evicts least recent first and keeps a prompt root longest', () => {
    const idx = new PrefixIndex(10);
    idx.record('a', [1, 2, 3, 4], 4, 6);
    expect(idx.match('a', [1, 2, 3, 9], 4)).toBe(3);
    expect(idx.match('a', [9, 2, 3], 3)).toBe(0);
    expect(idx.match('b', [1, 2], 2)).toBe(0);
    idx.record('a', [10, 11, 12], 3, 6); // 7 keys > 6: the least recent (4, the old tail) goes
    expect(idx.size('a')).toBe(6);
    expect(idx.match('a', [1, 2, 3, 4], 4)).toBe(3);
    expect(idx.match('a', [10, 11, 12], 3)).toBe(3);
  });

  it('forgets endpoints that left and bounds the endpoints tracked', () => {
    const idx = new PrefixIndex(2);
    idx.record('a', [1], 1, 10);
    idx.record('b', [1], 1, 10);
    idx.record('c', [1], 1, 10);
    expect(idx.match('a', [1], 1)).toBe(0);
    idx.retain(new Set(['c']));
    expect(idx.match('b', [1], 1)).toBe(0);
    expect(idx.match('c', [1], 1)).toBe(1);
  });
});

describe('session pins', () => {
  it('expire after the TTL, refresh on re-pin, and stay within capacity', () => {
    const pins = new SessionPins(3, 1000);
    pins.pin('s1', 'a', 0);
    expect(pins.get('s1', 999)).toBe('a');
    expect(pins.get('s1', 1000)).toBeUndefined();
    for (let i = 0; i < 10; i++) pins.pin(`k${i}`, 'b', 2000 + i);
    expect(pins.size).toBeLessThanOrEqual(3);
    expect(pins.get('k9', 2500)).toBe('b');
    expect(pins.get('k0', 2500)).toBeUndefined();
    pins.retain(new Set(['a']));
    expect(pins.size).toBe(0);
  });
});

describe('decision ring and bandit stats', () => {
  it('the ring keeps only the last N decisions', () => {
    const r = new DecisionRing<number>(3);
    for (let i = 0; i < 5; i++) r.put(`id${i}`, i);
    expect(r.get('id0')).toBeUndefined();
    expect(r.get('id1')).toBeUndefined();
    expect(r.get('id4')).toBe(4);
    expect(r.size).toBe(3);
  });

  it('lists the newest first, up to a limit, an id put twice once (at its newest)', () => {
    const r = new DecisionRing<number>(4);
    expect(r.newest(10)).toEqual([]);
    r.put('a', 1, 1000);
    r.put('b', 2, 2000);
    r.put('a', 3, 3000);
    expect(r.newest(10)).toEqual([
      { id: 'a', value: 3, at: 3000 },
      { id: 'b', value: 2, at: 2000 },
    ]);
    for (let i = 0; i < 6; i++) r.put(`id${i}`, i);
    expect(r.newest(3).map((e) => e.id)).toEqual(['id5', 'id4', 'id3']);
    expect(r.newest(10).map((e) => e.id)).toEqual(['id5', 'id4', 'id3', 'id2']);
    expect(r.newest(1)[0]?.at).toBeUndefined();
  });

  it('bandit stats are bounded and keep latency averages', () => {
    const b = new BanditStats(2);
    b.update('x', 1, 100);
    b.update('x', 0, 300);
    b.update('y', 0.5, undefined);
    b.update('z', 1, 50);
    expect(b.arm('x')).toBeUndefined();
    expect(b.arm('z')?.n).toBe(1);
    expect(b.snapshot()['y']?.mean).toBe(0.5);
  });
});
