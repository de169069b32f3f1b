// Reading token usage from responses as they stream past the meter: JSON bodies, SSE with the
// include_usage chunk (split anywhere, multi-byte text), SSE without it (chunks counted), a
// cut stream, a body too large to keep.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UsageReader } from '../../src/extproc/meter/usage-reader.js';

function read(contentType: string, parts: string[], complete = true, maxJson?: number) {
  const r = new UsageReader(maxJson);
  r.headers(contentType);
  for (const p of parts) r.body(Buffer.from(p));
  return r.end(complete);
}

const SSE = [
  'data: {"id":"x","choices":[{"index":0,"delta":{"role":"assistant","content":""}}],"usage":null}\n\n',
  'data: {"id":"x","choices":[{"index":0,"delta":{"content":"héllo"}}],"usage":null}\n\n',
  'data: {"id":"x","choices":[{"index":0,"delta":{"content":" wörld"}}],"usage":null}\n\n',
  'data: {"id":"x","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":2,"total_tokens":14,"prompt_tokens_details":{"cached_tokens":8}}}\n\n',
  'data: [DONE]\n\n',
].join('');

describe('usage reader', () => {
  it('JSON: the usage object, cached tokens included', () => {
    const body = JSON.stringify({
      choices: [{ message: { content: 'hi' } }],
      usage: { prompt_tokens: 5, completion_tokens: 3, prompt_tokens_details: { cached_tokens: 4 } },
    });
    expect(read('application/json', [body.slice(0, 10), body.slice(10)])).toMatchObject({
      usage: { promptTokens: 5, completionTokens: 3, cachedTokens: 4 },
      streamed: false,
      complete: true,
    });
  });

  it('SSE: the include_usage chunk, wherever the body is split (property, multi-byte text)', () => {
    const bytes = Buffer.from(SSE);
    fc.assert(
      fc.property(fc.array(fc.nat({ max: bytes.length }), { maxLength: 12 }), (cuts) => {
        const r = new UsageReader();
        r.headers('text/event-stream; charset=utf-8');
        let at = 0;
        for (const c of [...cuts].sort((a, b) => a - b)) {
          r.body(bytes.subarray(at, c));
          at = Math.max(at, c);
        }
        r.body(bytes.subarray(at));
        expect(r.end(true)).toMatchObject({ usage: { promptTokens: 12, completionTokens: 2, cachedTokens: 8 }, chunks: 3, streamed: true });
      }),
    );
  });

  it('SSE without usage, or cut: no usage, the generated chunks counted', () => {
    const noUsage = SSE.split('\n\n')
      .filter((e) => !e.includes('"usage":{'))
      .join('\n\n');
    expect(read('text/event-stream', [noUsage])).toMatchObject({ usage: undefined, chunks: 3 });
    expect(read('text/event-stream', [SSE.slice(0, SSE.indexOf('wörld'))], false)).toMatchObject({ usage: undefined, chunks: 2, complete: false });
  });

  it('a JSON body over the cap, or not JSON: no usage (never a crash)', () => {
    const body = JSON.stringify({ usage: { prompt_tokens: 1, completion_tokens: 1 }, pad: 'x'.repeat(100) });
    expect(read('application/json', [body], true, 50).usage).toBeUndefined();
    expect(read('application/json', ['{not json']).usage).toBeUndefined();
  });
});
