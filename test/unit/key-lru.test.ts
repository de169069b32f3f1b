// KeyLru (the prefix index's and the virtual benchmark's recency set of block keys) behaves
// exactly like a Map kept in recency order, whatever the operations: checked on random
// operation sequences, keys from a small domain (many hits) spread over the whole 53-bit
// range (keys differing only in their high bits included), through growth and reuse of
// freed nodes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyLru } from '../../src/core/learned/key-lru.js';

type Op = { op: 'touch' | 'touchIfPresent' | 'evict' | 'has'; key: number; tag: number };

const HIGH = 2 ** 32;
const keyArb = fc.oneof(
  fc.integer({ min: 0, max: 40 }),
  fc.integer({ min: 0, max: 40 }).map((k) => k * HIGH), // equal low 32 bits
  fc.integer({ min: 0, max: 40 }).map((k) => Number.MAX_SAFE_INTEGER - k),
);
const opArb: fc.Arbitrary<Op> = fc.record({
  op: fc.constantFrom('touch', 'touch', 'touchIfPresent', 'evict', 'has'),
  key: keyArb,
  tag: fc.constantFrom(0, 0, 1, 2),
});

function reference(ops: readonly Op[], lru: KeyLru): void {
  // key → its tags (OR of every touch's tag since it entered)
  const ref = new Map<number, number>();
  for (const { op, key, tag } of ops) {
    if (op === 'touch') {
      const was = ref.get(key);
      ref.delete(key);
      ref.set(key, (was ?? 0) | tag);
      expect(lru.touch(key, tag)).toBe(was !== undefined);
    } else if (op === 'touchIfPresent') {
      const was = ref.get(key);
      if (was !== undefined) {
        ref.delete(key);
        ref.set(key, was);
      }
      expect(lru.touchIfPresent(key)).toBe(was !== undefined);
    } else if (op === 'evict') {
      const oldest = ref.keys().next().value;
      if (oldest !== undefined) {
        const t = ref.get(oldest);
        ref.delete(oldest);
        expect(lru.evictOldest()).toBe(oldest);
        expect(lru.lastEvictedTag).toBe(t);
      } else expect(lru.evictOldest()).toBeUndefined();
    } else expect(lru.has(key)).toBe(ref.has(key));
    expect(lru.size).toBe(ref.size);
  }
  expect([...lru.keys()]).toEqual([...ref.keys()]);
}

describe('KeyLru', () => {
  it('matches a Map in recency order on random operations (growth, eviction, node reuse, tags)', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 400 }), fc.integer({ min: 1, max: 8 }), (ops, initial) => {
        reference(ops, new KeyLru(initial));
      }),
      { numRuns: 300 },
    );
  });

  it('holds 100,000 distinct keys and evicts them oldest first', () => {
    const lru = new KeyLru(4);
    for (let k = 0; k < 100_000; k++) lru.touch(k * 7919 + HIGH * (k % 3));
    expect(lru.size).toBe(100_000);
    expect(lru.has(99_999 * 7919 + HIGH * (99_999 % 3))).toBe(true);
    expect(lru.evictOldest()).toBe(0);
    expect(lru.evictOldest()).toBe(7919 + HIGH);
    lru.clear();
    expect(lru.size).toBe(0);
    expect(lru.has(2 * 7919 + 2 * HIGH)).toBe(false);
    expect(lru.evictOldest()).toBeUndefined();
  });
});
