// POST /v1/embeddings on a simulated replica (model already checked).
// Input: string | string[] | token ids | token-id arrays (at most MAX_INPUTS items). Each item gets
// 8 deterministic floats: the 8 big-endian int32 words of sha256(item text) / 2^31, L2-normalised.
// Cost: queue + added latency + prompt tokens × prefill (no prefix cache, no decode).
import { createHash, randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { sendJson } from './http-io.js';
import { openAiError } from './openai-error.js';
import { countTokens, renderCompletionPrompt } from './prompt-text.js';
import { admitAndPrefill } from './scheduler.js';
import type { ReplicaState } from './replica-state.js';

const MAX_INPUTS = 2048;
export const EMBEDDING_DIMS = 8;

export function deterministicEmbedding(text: string): number[] {
  const digest = createHash('sha256').update(text).digest();
  const raw: number[] = [];
  for (let i = 0; i < EMBEDDING_DIMS; i++) raw.push(digest.readInt32BE(i * 4) / 2 ** 31);
  const norm = Math.hypot(...raw) || 1;
  return raw.map((x) => Math.round((x / norm) * 1e6) / 1e6);
}

/** Texts of the `input` field, or undefined if it is not a valid embeddings input. */
function inputTexts(input: unknown, charsPerToken: number): string[] | undefined {
  if (typeof input === 'string') return [input];
  if (!Array.isArray(input) || input.length === 0 || input.length > MAX_INPUTS) return undefined;
  if (input.every((x) => typeof x === 'number')) {
    const r = renderCompletionPrompt(input, charsPerToken);
    return r.ok ? [r.text] : undefined;
  }
  const texts: string[] = [];
  for (const item of input) {
    if (typeof item === 'string') texts.push(item);
    else if (Array.isArray(item)) {
      const r = renderCompletionPrompt(item, charsPerToken);
      if (!r.ok) return undefined;
      texts.push(r.text);
    } else return undefined;
  }
  return texts;
}

export async function serveEmbeddings(state: ReplicaState, body: Record<string, unknown>, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const texts = inputTexts(body.input, state.opts.charsPerToken);
  if (texts === undefined) {
    return sendJson(res, 400, openAiError(400, `input must be a string, an array of strings or token ids (at most ${MAX_INPUTS} items)`, 'input'));
  }
  const tokens = texts.reduce((sum, t) => sum + countTokens(t, state.opts.charsPerToken), 0);
  if (texts.some((t) => countTokens(t, state.opts.charsPerToken) > state.opts.maxModelLen)) {
    return sendJson(res, 400, openAiError(400, `an input exceeds the maximum context length of ${state.opts.maxModelLen} tokens`, 'input'));
  }
  const admit = await admitAndPrefill(state, { text: '', tokens }, 0, false, signal);
  if (!admit.ok) {
    if (admit.reason === 'queue-full') sendJson(res, 503, openAiError(503, 'Server is overloaded: waiting queue is full'));
    return;
  }
  try {
    const data = texts.map((t, index) => ({ object: 'embedding', index, embedding: deterministicEmbedding(t) }));
    sendJson(
      res,
      200,
      {
        id: `embd-${randomUUID().replaceAll('-', '')}`,
        object: 'list',
        created: Math.floor(Date.now() / 1000),
        model: state.model,
        data,
        usage: { prompt_tokens: tokens, completion_tokens: 0, total_tokens: tokens },
      },
      { 'x-sim-replica': String(state.index), 'x-sim-cached-tokens': '0' },
    );
    state.completed++;
    state.metrics.requestSuccess.inc({ finished_reason: 'stop' });
    state.metrics.e2eLatency.observe((performance.now() - admit.admitted.startedAt) / 1000);
  } finally {
    admit.admitted.release();
  }
}
