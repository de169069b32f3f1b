// POST /v1/chat/completions and /v1/completions on a simulated replica (model already checked).
// Output tokens = max_completion_tokens | max_tokens | defaultMaxTokens; finish_reason "length"
// when the request set a limit, else "stop". Non-streaming: reply at TTFT + (n − 1) × decode.
// Streaming (SSE): first chunk at TTFT, then one chunk per decode interval, a closing chunk with
// finish_reason (carrying kvfleet_sim), the usage chunk when stream_options.include_usage, then `data: [DONE]`.
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { sendJson } from './http-io.js';
import { openAiError } from './openai-error.js';
import { countTokens, renderChatPrompt, renderCompletionPrompt } from './prompt-text.js';
import { admitAndPrefill, delay, type Admitted } from './scheduler.js';
import {
  fullResponse,
  outputText,
  streamChunk,
  tokenText,
  usageChunk,
  usageOf,
  type GenerationKind,
  type ResponseMeta,
  type SimExtension,
  type Usage,
} from './completion-bodies.js';
import type { ReplicaState } from './replica-state.js';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

type MaxTokens = { ok: true; tokens: number; explicit: boolean } | { ok: false; param: string };

function readMaxTokens(kind: GenerationKind, body: Record<string, unknown>, fallback: number): MaxTokens {
  const fields = kind === 'chat' ? ['max_completion_tokens', 'max_tokens'] : ['max_tokens'];
  for (const f of fields) {
    const v = body[f];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) return { ok: false, param: f };
    return { ok: true, tokens: v, explicit: true };
  }
  return { ok: true, tokens: fallback, explicit: false };
}

export async function serveGeneration(
  state: ReplicaState,
  kind: GenerationKind,
  body: Record<string, unknown>,
  receivedModel: string | null,
  res: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  const { opts } = state;
  const rendered = kind === 'chat' ? renderChatPrompt(body.messages) : renderCompletionPrompt(body.prompt, opts.charsPerToken);
  if (!rendered.ok) return sendJson(res, 400, openAiError(400, rendered.message, rendered.param));
  const max = readMaxTokens(kind, body, opts.defaultMaxTokens);
  if (!max.ok) return sendJson(res, 400, openAiError(400, `${max.param} must be an integer >= 1`, max.param));
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') {
    return sendJson(res, 400, openAiError(400, 'stream must be a boolean', 'stream'));
  }
  const stream = body.stream === true;
  const includeUsage = isRecord(body.stream_options) && body.stream_options.include_usage === true;
  const ids = state.kv?.promptIds(kind, body);
  const prompt = { text: rendered.text, tokens: ids?.length ?? countTokens(rendered.text, opts.charsPerToken), ids };
  const n = max.tokens;
  if (prompt.tokens + n > opts.maxModelLen) {
    const param = kind === 'chat' ? 'messages' : 'prompt';
    const msg =
      `This model's maximum context length is ${opts.maxModelLen} tokens. However, you requested ` +
      `${prompt.tokens + n} tokens (${prompt.tokens} in the ${param}, ${n} in the completion).`;
    return sendJson(res, 400, openAiError(400, msg, param));
  }

  const admit = await admitAndPrefill(state, prompt, n, true, signal);
  if (!admit.ok) {
    if (admit.reason === 'queue-full') sendJson(res, 503, openAiError(503, 'Server is overloaded: waiting queue is full'));
    return;
  }
  const a = admit.admitted;
  const finishReason = max.explicit ? 'length' : 'stop';
  const meta: ResponseMeta = {
    id: `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID().replaceAll('-', '')}`,
    created: Math.floor(Date.now() / 1000),
    model: state.model,
  };
  const sim: SimExtension = {
    replica: state.index,
    port: state.port,
    cached_tokens: a.cachedTokens,
    prompt_tokens: prompt.tokens,
    ttft_ms: Math.round(a.ttftMs * 1000) / 1000,
    received_model: receivedModel,
  };
  const usage = usageOf(prompt.tokens, n, a.cachedTokens);
  const headers = { 'x-sim-replica': String(state.index), 'x-sim-cached-tokens': String(a.cachedTokens) };
  try {
    let done: boolean;
    if (stream) {
      done = await streamOut(kind, meta, n, finishReason, { usage, sim, includeUsage }, headers, state, res, signal);
    } else {
      done = await delay((n - 1) * opts.decodeMsPerToken, signal);
      if (done) sendJson(res, 200, fullResponse(kind, meta, outputText(n), finishReason, usage, sim), headers);
    }
    finish(state, a, done ? finishReason : 'abort', done ? n : 0);
  } finally {
    a.release();
  }
}

function finish(state: ReplicaState, a: Admitted, reason: string, generated: number): void {
  state.metrics.requestSuccess.inc({ finished_reason: reason });
  if (reason === 'abort') return;
  state.completed++;
  state.metrics.generationTokens.inc(generated);
  state.metrics.e2eLatency.observe((performance.now() - a.startedAt) / 1000);
}

async function streamOut(
  kind: GenerationKind,
  meta: ResponseMeta,
  n: number,
  finishReason: string,
  trailer: { usage: Usage; sim: SimExtension; includeUsage: boolean },
  headers: Record<string, string>,
  state: ReplicaState,
  res: ServerResponse,
  signal: AbortSignal,
): Promise<boolean> {
  if (res.destroyed) return false;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...headers });
  const send = (obj: unknown): void => {
    res.write(`data: ${JSON.stringify(obj)}\n\n`);
  };
  for (let k = 1; k <= n; k++) {
    if (k > 1 && !(await delay(state.opts.decodeMsPerToken, signal))) return false;
    if (res.destroyed) return false;
    send(streamChunk(kind, meta, tokenText(k), null, k === 1));
  }
  send({ ...streamChunk(kind, meta, undefined, finishReason, false), kvfleet_sim: trailer.sim });
  if (trailer.includeUsage) send(usageChunk(kind, meta, trailer.usage, trailer.sim));
  res.end('data: [DONE]\n\n');
  return true;
}
