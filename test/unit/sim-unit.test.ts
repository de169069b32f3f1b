// Pure pieces of the simulator: prefix-cache hashing/LRU, FIFO admission, prompt rendering, options.
import { describe, expect, it } from 'vitest';
import { PrefixCache } from '../../src/tools/sim/prefix-cache.js';
import { AdmissionQueue } from '../../src/tools/sim/admission-queue.js';
import { renderChatPrompt, renderCompletionPrompt, countTokens } from '../../src/tools/sim/prompt-text.js';
import { resolveSimOptions, defaultSimOptions, modelForReplica } from '../../src/tools/sim/options.js';
import { SeededRandom } from '../../src/tools/sim/seeded-random.js';
import { parseFaultPatch } from '../../src/tools/sim/fault-patch.js';

describe('PrefixCache', () => {
  const blockChars = 4 * 2; // blockTokens 4 × charsPerToken 2

  it('hashes only full blocks, chained so equal blocks at different prefixes differ', () => {
    const c = new PrefixCache(100, 4, 2);
    expect(c.blockHashes('a'.repeat(blockChars * 3 - 1))).toHaveLength(2);
    const h = c.blockHashes('x'.repeat(blockChars * 2));
    expect(h[0]).not.toBe(h[1]);
  });

  it('counts leading cached blocks and keeps the last prompt token uncached', () => {
    const c = new PrefixCache(100, 4, 2);
    const text = 'abcdefgh'.repeat(3); // 3 full blocks, 12 tokens
    const hashes = c.blockHashes(text);
    expect(c.lookup(hashes, 12)).toBe(0);
    c.insert(hashes);
    // all 12 tokens cached would leave nothing to compute: capped at floor(11/4) = 2 blocks
    expect(c.lookup(hashes, 12)).toBe(8);
    // a longer prompt with the same prefix hits all 3 blocks
    const longer = c.blockHashes(text + 'zzzzzzzz');
    expect(c.lookup(longer, 16)).toBe(12);
    // a different first block breaks the chain even if later blocks are equal
    const other = c.blockHashes('ABCDEFGH' + text.slice(blockChars) + 'zzzzzzzz');
    expect(c.lookup(other, 16)).toBe(0);
  });

  it('evicts least recently used blocks beyond capacity', () => {
    const c = new PrefixCache(3, 4, 2);
    const a = c.blockHashes('a'.repeat(blockChars * 2));
    const b = c.blockHashes('b'.repeat(blockChars * 2));
    c.insert(a);
    c.insert(b); // 4 blocks > 3 → a[0] evicted
    expect(c.size).toBe(3);
    expect(c.lookup(a, 100)).toBe(0);
    expect(c.lookup(b, 100)).toBe(8);
  });
});

describe('AdmissionQueue', () => {
  it('admits up to maxRunning, then serves waiters in FIFO order', async () => {
    const q = new AdmissionQueue(1, 10);
    const signal = new AbortController().signal;
    expect(await q.acquire(signal)).toBe('acquired');
    const order: number[] = [];
    const w1 = q.acquire(signal).then((r) => order.push(1) && r);
    const w2 = q.acquire(signal).then((r) => order.push(2) && r);
    expect(q.waiting).toBe(2);
    q.release();
    await w1;
    q.release();
    await w2;
    expect(order).toEqual([1, 2]);
    expect(q.peakRunning).toBe(1);
  });

  it('rejects when the queue is full and drops aborted waiters', async () => {
    const q = new AdmissionQueue(1, 1);
    const signal = new AbortController().signal;
    await q.acquire(signal);
    const ac = new AbortController();
    const waiting = q.acquire(ac.signal);
    expect(await q.acquire(signal)).toBe('queue-full');
    ac.abort();
    expect(await waiting).toBe('aborted');
    expect(q.waiting).toBe(0);
    q.release();
    expect(q.running).toBe(0);
  });
});

describe('prompt text', () => {
  it('renders chat so an earlier turn is a prefix of the longer conversation', () => {
    const one = renderChatPrompt([{ role: 'user', content: 'hi' }]);
    const two = renderChatPrompt([
      { role: 'user', content: [{ type: 'text', text: 'hi' }] },
      { role: 'assistant', content: 'yo' },
      { role: 'user', content: 'more' },
    ]);
    expect(one.ok && two.ok).toBe(true);
    if (one.ok && two.ok) expect(two.text.startsWith(one.text.replace(/<\|assistant\|>\n$/, ''))).toBe(true);
  });

  it('rejects bad messages and prompts without throwing', () => {
    expect(renderChatPrompt([]).ok).toBe(false);
    expect(renderChatPrompt([{ content: 'x' }]).ok).toBe(false);
    expect(renderChatPrompt([{ role: 'user', content: 5 }]).ok).toBe(false);
    expect(renderCompletionPrompt({}, 4).ok).toBe(false);
    const ids = renderCompletionPrompt([1, 2, 3], 4);
    expect(ids.ok && countTokens(ids.text, 4)).toBe(3);
  });
});

describe('options and faults', () => {
  it('fills defaults and rejects out-of-range values', () => {
    expect(resolveSimOptions({}).basePort).toBe(defaultSimOptions.basePort);
    expect(() => resolveSimOptions({ errorRate: 2 })).toThrow(/errorRate/);
    expect(() => resolveSimOptions({ replicas: 2, refuse: [5] })).toThrow(/refuse/);
    expect(modelForReplica('a,b', 3)).toBe('b');
  });

  it('seeded draws are deterministic and resettable', () => {
    const a = new SeededRandom(7, 0);
    const first = [a.next(), a.next(), a.next()];
    a.reset();
    expect([a.next(), a.next(), a.next()]).toEqual(first);
    expect(new SeededRandom(8, 0).next()).not.toBe(first[0]);
  });

  it('validates fault patches', () => {
    expect(parseFaultPatch({ error_rate: 0.5, error_status: 429 })).toEqual({ ok: true, patch: { errorRate: 0.5, errorStatus: 429 } });
    expect(parseFaultPatch({ error_status: 418 }).ok).toBe(false);
    expect(parseFaultPatch({ bogus: 1 }).ok).toBe(false);
  });
});
