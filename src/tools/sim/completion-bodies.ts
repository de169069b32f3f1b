// OpenAI response objects for chat and text completions (full and streamed chunks), as vLLM
// shapes them, plus the `kvfleet_sim` extension: {replica, port, cached_tokens, prompt_tokens,
// ttft_ms, received_model}. Output token k (1-based) is the text "tok<k> ".

export type GenerationKind = 'chat' | 'completion';

export interface SimExtension {
  replica: number;
  port: number;
  cached_tokens: number;
  prompt_tokens: number;
  ttft_ms: number;
  received_model: string | null;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}

export interface ResponseMeta {
  id: string;
  created: number;
  model: string;
}

export function tokenText(k: number): string {
  return `tok${k} `;
}

export function outputText(tokens: number): string {
  let s = '';
  for (let k = 1; k <= tokens; k++) s += tokenText(k);
  return s;
}

export function usageOf(promptTokens: number, completionTokens: number, cachedTokens: number): Usage {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: cachedTokens },
  };
}

export function fullResponse(
  kind: GenerationKind,
  meta: ResponseMeta,
  text: string,
  finishReason: string,
  usage: Usage,
  sim: SimExtension,
): Record<string, unknown> {
  const choice =
    kind === 'chat'
      ? { index: 0, message: { role: 'assistant', content: text, tool_calls: [] }, logprobs: null, finish_reason: finishReason, stop_reason: null }
      : { index: 0, text, logprobs: null, finish_reason: finishReason, stop_reason: null };
  return {
    id: meta.id,
    object: kind === 'chat' ? 'chat.completion' : 'text_completion',
    created: meta.created,
    model: meta.model,
    choices: [choice],
    usage,
    kvfleet_sim: sim,
  };
}

/** One streamed chunk; `text` undefined = the closing delta; `first` adds the assistant role. */
export function streamChunk(
  kind: GenerationKind,
  meta: ResponseMeta,
  text: string | undefined,
  finishReason: string | null,
  first: boolean,
): Record<string, unknown> {
  const choice =
    kind === 'chat'
      ? {
          index: 0,
          delta: text === undefined ? {} : first ? { role: 'assistant', content: text } : { content: text },
          logprobs: null,
          finish_reason: finishReason,
        }
      : { index: 0, text: text ?? '', logprobs: null, finish_reason: finishReason };
  return {
    id: meta.id,
    object: kind === 'chat' ? 'chat.completion.chunk' : 'text_completion',
    created: meta.created,
    model: meta.model,
    choices: [choice],
  };
}

/** The trailing usage chunk sent when stream_options.include_usage is true. */
export function usageChunk(kind: GenerationKind, meta: ResponseMeta, usage: Usage, sim: SimExtension): Record<string, unknown> {
  return {
    id: meta.id,
    object: kind === 'chat' ? 'chat.completion.chunk' : 'text_completion',
    created: meta.created,
    model: meta.model,
    choices: [],
    usage,
    kvfleet_sim: sim,
  };
}
