// Capability filters, applied before any scoring. A model a filter removes is
// never a candidate, a fallback model or an endpoint source.
//   type        chat → chat models; completion → chat or completion models; embedding → embedding models
//   tools       request has tools/functions → capabilities.tools
//   json_mode   response_format json_object/json_schema → capabilities.json_mode
//   vision      image parts → capabilities.vision
//   context     ceil(prompt chars / chars_per_token) + max output tokens ≤ context_length
import type { Model } from '../config/fleet.js';
import type { RequestInput } from '../request/types.js';

export interface FilterVerdict {
  /** Short code for headers and explain (`no-vision`…). */
  readonly reason: string;
  /** The request field that asks for what the model cannot do (error `param`). */
  readonly param: string;
  /** What the model cannot do, after "model '<name>' " (errors.ts invalid_field). */
  readonly cannot: string;
}

export function capabilityVerdict(model: Model, input: RequestInput, promptTokens: number): FilterVerdict | undefined {
  const c = model.capabilities;
  if (input.api === 'embedding' && model.type !== 'embedding') {
    return { reason: 'type:not-embedding', param: 'model', cannot: 'is not an embedding model' };
  }
  if (input.api !== 'embedding' && model.type === 'embedding') {
    return { reason: 'type:embedding', param: 'model', cannot: 'is an embedding model; use /v1/embeddings' };
  }
  if (input.api === 'chat' && model.type === 'completion') {
    return { reason: 'type:completion', param: 'model', cannot: 'serves /v1/completions only' };
  }
  if (input.hasTools && !c.tools) return { reason: 'no-tools', param: 'tools', cannot: 'does not support tools' };
  if (input.jsonMode && !c.json_mode) {
    return { reason: 'no-json-mode', param: 'response_format', cannot: 'does not support JSON mode' };
  }
  if (input.hasImages && !c.vision) {
    return { reason: 'no-vision', param: 'messages', cannot: 'does not accept image input' };
  }
  const need = promptTokens + (input.maxOutputTokens ?? 0);
  if (need > c.context_length) {
    return {
      reason: 'context-length',
      param: input.maxOutputTokens !== undefined ? 'max_tokens' : input.api === 'chat' ? 'messages' : input.api === 'completion' ? 'prompt' : 'input',
      cannot: `has a context length of ${c.context_length} tokens; this request needs about ${need} (prompt estimate plus max output)`,
    };
  }
  return undefined;
}
