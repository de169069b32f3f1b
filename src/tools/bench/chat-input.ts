// A plain chat request as the Router receives it (request/parse-body.ts output), for the
// benchmarks that drive the Router without a body to parse: no tools, JSON mode or images;
// promptChars is the messages' text. Overrides (stream, max tokens, body) per benchmark.
import type { PromptSegment, RequestInput } from '../../request/types.js';

export function chatInput(
  segments: readonly PromptSegment[],
  o: Partial<Pick<RequestInput, 'model' | 'stream' | 'maxOutputTokens' | 'body'>> = {},
): RequestInput {
  return {
    api: 'chat',
    model: o.model ?? 'm',
    stream: o.stream ?? false,
    segments,
    promptChars: segments.reduce((n, s) => n + s.text.length, 0),
    hasTools: false,
    jsonMode: false,
    hasImages: false,
    maxOutputTokens: o.maxOutputTokens ?? 256,
    user: undefined,
    body: o.body ?? {},
    bodyChanged: false,
  };
}
