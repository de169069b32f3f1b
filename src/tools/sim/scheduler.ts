// Admission and prefill of one inference request on a simulated replica.
// Order: added latency → FIFO queue (max-concurrency) → prefix-cache lookup → prefill sleep →
// blocks inserted into the cache → first token. TTFT = added latency + queue wait +
// (prompt_tokens − cached_tokens) × prefill_us_per_token. The slot and the request's KV blocks
// (ceil((prompt + output) / block_tokens)) are held until release().
import { setTimeout as sleep } from 'node:timers/promises';
import type { ReplicaState } from './replica-state.js';

/** Wait `ms` with a real timer; false if `signal` aborted first. */
export async function delay(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  if (ms <= 0) return true;
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

export interface PromptInfo {
  text: string;
  tokens: number;
  /** The engine's token ids (--kv-events): the cache keys on their vLLM block hashes. */
  ids?: number[] | undefined;
}

export interface Admitted {
  cachedTokens: number;
  ttftMs: number;
  startedAt: number;
  /** Give back the running slot and KV blocks; safe to call more than once. */
  release(): void;
}

export type AdmitResult = { ok: true; admitted: Admitted } | { ok: false; reason: 'queue-full' | 'aborted' };

export async function admitAndPrefill(
  state: ReplicaState,
  prompt: PromptInfo,
  outputTokens: number,
  useCache: boolean,
  signal: AbortSignal,
): Promise<AdmitResult> {
  const startedAt = performance.now();
  if (!(await delay(state.faults.addedLatencyMs, signal))) return { ok: false, reason: 'aborted' };
  const queuedAt = performance.now();
  const got = await state.queue.acquire(signal);
  if (got !== 'acquired') return { ok: false, reason: got };
  state.metrics.queueTime.observe((performance.now() - queuedAt) / 1000);

  const blocks = Math.ceil((prompt.tokens + outputTokens) / state.opts.blockTokens);
  state.kvBlocksInUse += blocks;
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    state.kvBlocksInUse -= blocks;
    state.queue.release();
  };

  let cachedTokens = 0;
  let hashes: string[] = [];
  if (useCache) {
    hashes = prompt.ids !== undefined && state.kv !== undefined ? state.kv.blockHashes(prompt.ids) : state.cache.blockHashes(prompt.text);
    cachedTokens = state.cache.lookup(hashes, prompt.tokens);
    state.prefixQueriesTokens += prompt.tokens;
    state.prefixHitsTokens += cachedTokens;
    state.metrics.prefixQueries.inc(prompt.tokens);
    state.metrics.prefixHits.inc(cachedTokens);
  }
  const prefillMs = ((prompt.tokens - cachedTokens) * state.opts.prefillUsPerToken) / 1000;
  if (!(await delay(prefillMs, signal))) {
    release();
    return { ok: false, reason: 'aborted' };
  }
  if (useCache) state.cache.insert(hashes);
  const ttftMs = performance.now() - startedAt;
  state.metrics.ttft.observe(ttftMs / 1000);
  state.metrics.promptTokens.inc(prompt.tokens);
  return { ok: true, admitted: { cachedTokens, ttftMs, startedAt, release } };
}
