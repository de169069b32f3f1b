// Token usage from a response body as it streams past (the meter sees copies; nothing here
// can delay or change what the client receives):
//   JSON (a non-streamed completion, an embedding): the body, up to `maxJsonBytes`, parsed
//        once at its end for `usage` {prompt_tokens, completion_tokens,
//        prompt_tokens_details.cached_tokens}; the body and its parse stay available for the
//        response cache (jsonBody)
//   SSE  (`text/event-stream`): line by line; the `usage` chunk of
//        stream_options.include_usage is parsed when it passes (only events that contain a
//        usage object are parsed at all); every other data event with choices counts as one
//        generated chunk — what an aborted or usage-less stream is charged (engines stream one
//        token per chunk, so the count is a close estimate)
import type { TokenUsage } from '../../core/limits/cost.js';
import type { MeterReading } from '../../core/limits/meter-reading.js';

export type { MeterReading };

const USAGE_OBJECT = /"usage"\s*:\s*\{/;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : 0);

/** The `usage` of an OpenAI-shaped object, when it has one. */
export function usageOf(o: unknown): TokenUsage | undefined {
  if (!isRecord(o) || !isRecord(o['usage'])) return undefined;
  const u = o['usage'];
  const details = isRecord(u['prompt_tokens_details']) ? u['prompt_tokens_details'] : undefined;
  return { promptTokens: count(u['prompt_tokens']), completionTokens: count(u['completion_tokens']), cachedTokens: count(details?.['cached_tokens']) };
}

export class UsageReader {
  private streamed = false;
  private readonly json: Buffer[] = [];
  private jsonBytes = 0;
  private tooBig = false;
  private readonly decoder = new TextDecoder();
  private carry = '';
  private chunks = 0;
  private usage: TokenUsage | undefined;
  /** A complete JSON body, as received and parsed (for the response cache). */
  private raw: Buffer | undefined;
  private parsed: unknown;

  constructor(private readonly maxJsonBytes = 4 * 1024 * 1024) {}

  headers(contentType: string | undefined): void {
    this.streamed = contentType !== undefined && contentType.toLowerCase().includes('text/event-stream');
  }

  body(b: Buffer): void {
    if (b.length === 0) return;
    if (!this.streamed) {
      this.jsonBytes += b.length;
      if (this.jsonBytes > this.maxJsonBytes) this.tooBig = true;
      else this.json.push(b);
      return;
    }
    const text = this.carry + this.decoder.decode(b, { stream: true });
    const lines = text.split('\n');
    this.carry = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  }

  /** The reading once the body ended (`complete`) or was cut. */
  end(complete: boolean): MeterReading {
    if (this.streamed) {
      // A line cut in the middle is not an event.
      if (complete && this.carry !== '') this.line(this.carry);
      this.carry = '';
    } else if (complete && !this.tooBig && this.json.length > 0) {
      const raw = Buffer.concat(this.json, this.jsonBytes);
      this.raw = raw;
      try {
        this.parsed = JSON.parse(raw.toString('utf8'));
        this.usage = usageOf(this.parsed);
      } catch {
        this.usage = undefined;
      }
    }
    return { usage: this.usage, chunks: this.chunks, streamed: this.streamed, complete };
  }

  /** After end(): the complete JSON body and its parse (undefined: SSE, cut, empty); `truncated`: over the size kept. */
  jsonBody(): { readonly body: Buffer | undefined; readonly parsed: unknown; readonly truncated: boolean } {
    return { body: this.raw, parsed: this.parsed, truncated: this.tooBig };
  }

  private line(raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (!line.startsWith('data:')) return;
    const payload = line.slice(5).trim();
    if (payload === '[DONE]' || payload === '') return;
    if (USAGE_OBJECT.test(payload)) {
      try {
        const o: unknown = JSON.parse(payload);
        const u = usageOf(o);
        if (u !== undefined) this.usage = u;
        if (isRecord(o) && Array.isArray(o['choices']) && o['choices'].length > 0) this.chunks++;
      } catch {
        // a malformed event is not ours to judge; it just is not usage
      }
      return;
    }
    if (payload.includes('"choices"')) this.chunks++;
  }
}
