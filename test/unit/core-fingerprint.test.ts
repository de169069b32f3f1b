import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blockChars, fingerprint, modelSalt, renderPrompt, saltedKeys } from '../../src/core/fingerprint.js';
import { oneModelFleet } from '../helpers/core.js';
import type { PromptSegment } from '../../src/request/types.js';

const A = { block_tokens: 16, chars_per_token: 4, max_blocks: 256 };
const fp = (segs: PromptSegment[], a = A) =>
  fingerprint(
    segs,
    segs.reduce((n, s) => n + s.text.length, 0),
    a,
  );
const segment = fc.record({ role: fc.constantFrom('system', 'user', 'assistant', 'tool'), text: fc.string({ maxLength: 400 }) });

describe('prompt fingerprint', () => {
  it('turn n+1 shares every block of turn n (property)', () => {
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 6 }), fc.array(segment, { minLength: 1, maxLength: 4 }), (turn, more) => {
        const a = fp(turn);
        const b = fp([...turn, ...more]);
        expect(b.blocks).toBeGreaterThanOrEqual(a.blocks);
        expect(Array.from(b.chain.slice(0, a.blocks))).toEqual(Array.from(a.chain));
      }),
      { numRuns: 300 },
    );
  });

  it('differs from the first differing block on, and roles matter', () => {
    const base = 'x'.repeat(64 * 3);
    const a = fp([
      { role: 'system', text: base },
      { role: 'user', text: 'hello'.repeat(30) },
    ]);
    const b = fp([
      { role: 'system', text: base },
      { role: 'user', text: 'howdy'.repeat(30) },
    ]);
    const shared = Math.floor(renderPrompt([{ role: 'system', text: base }]).length / blockChars(A));
    expect(Array.from(a.chain.slice(0, shared))).toEqual(Array.from(b.chain.slice(0, shared)));
    expect(a.chain[a.blocks - 1]).not.toBe(b.chain[b.blocks - 1]);
    const asUser = fp([{ role: 'user', text: base }]);
    expect(asUser.chain[0]).not.toBe(a.chain[0]);
  });

  it('caps the blocks considered on a huge prompt and counts tokens of the whole prompt', () => {
    const big = fp([{ role: 'user', text: 'y'.repeat(1_000_000) }], { ...A, max_blocks: 50 });
    expect(big.blocks).toBe(50);
    expect(big.chain).toHaveLength(50);
    expect(big.promptTokens).toBeGreaterThanOrEqual(250_000);
  });

  it('salts keys by model: two models on one replica never share keys', () => {
    const f1 = oneModelFleet(1);
    const f2 = oneModelFleet(1).models[0];
    const m1 = f1.models[0];
    if (m1 === undefined || f2 === undefined) throw new Error('fleet');
    const other = { ...f2, model_id: 'org/M-lora-sql' };
    const p = fp([{ role: 'user', text: 'z'.repeat(640) }]);
    const k1 = saltedKeys(p, modelSalt(m1));
    const k2 = saltedKeys(p, modelSalt(other));
    expect(k1).toHaveLength(p.blocks);
    for (let i = 0; i < p.blocks; i++) expect(k1[i]).not.toBe(k2[i]);
    expect(Array.from(saltedKeys(p, modelSalt(m1)))).toEqual(Array.from(k1));
  });
});
