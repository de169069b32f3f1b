import { describe, expect, it } from 'vitest';
import { KvError } from '../../src/errors.js';
import { parseRequestBody, serializeBody } from '../../src/request/parse-body.js';

const enc = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

function failure(api: 'chat' | 'completion' | 'embedding', body: unknown): KvError {
  try {
    parseRequestBody(api, enc(body));
  } catch (e) {
    if (e instanceof KvError) return e;
    throw e;
  }
  throw new Error('expected a KvError');
}

describe('OpenAI body parsing', () => {
  it('reads a chat request', () => {
    const r = parseRequestBody(
      'chat',
      enc({
        model: 'm',
        stream: true,
        user: 'u1',
        max_tokens: 12,
        tools: [{ type: 'function' }],
        response_format: { type: 'json_object' },
        messages: [
          { role: 'system', content: 'You are terse.' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'look' },
              { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
            ],
          },
        ],
      }),
    );
    expect(r).toMatchObject({ api: 'chat', model: 'm', stream: true, user: 'u1', maxOutputTokens: 12, hasTools: true, jsonMode: true, hasImages: true });
    expect(r.segments.map((s) => s.role)).toEqual(['system', 'user']);
    expect(r.segments[0]?.text).toBe('You are terse.');
    expect(r.promptChars).toBeGreaterThan(18);
  });

  it('reads completions and embeddings inputs in all their shapes', () => {
    expect(parseRequestBody('completion', enc({ model: 'm', prompt: 'hi' })).segments).toEqual([{ role: 'prompt', text: 'hi' }]);
    expect(parseRequestBody('completion', enc({ model: 'm', prompt: [1, 2, 3] })).segments).toEqual([{ role: 'prompt', text: '1 2 3' }]);
    expect(parseRequestBody('embedding', enc({ model: 'm', input: ['a', 'b'] })).segments).toHaveLength(2);
  });

  it.each([
    ['not json', '{"model":', 'invalid_json', null],
    ['an array body', [1], 'invalid_json', null],
    ['missing model', { messages: [] }, 'missing_field', 'model'],
    ['model of the wrong type', { model: 3, messages: [] }, 'invalid_field', 'model'],
    ['missing messages', { model: 'm' }, 'missing_field', 'messages'],
    ['messages not an array', { model: 'm', messages: 'hi' }, 'invalid_field', 'messages'],
    ['empty messages', { model: 'm', messages: [] }, 'invalid_field', 'messages'],
    ['a message without role', { model: 'm', messages: [{ content: 'x' }] }, 'missing_field', 'messages[0].role'],
    [
      'content of the wrong type',
      {
        model: 'm',
        messages: [
          { role: 'user', content: 'a' },
          { role: 'user', content: 5 },
        ],
      },
      'invalid_field',
      'messages[1].content',
    ],
    ['a content part without text', { model: 'm', messages: [{ role: 'user', content: [{ type: 'text' }] }] }, 'invalid_field', 'messages[0].content[0].text'],
    ['stream not a boolean', { model: 'm', stream: 'yes', messages: [{ role: 'user', content: 'a' }] }, 'invalid_field', 'stream'],
    ['max_tokens negative', { model: 'm', max_tokens: -1, messages: [{ role: 'user', content: 'a' }] }, 'invalid_field', 'max_tokens'],
  ])('rejects %s, naming the field', (_name, body, code, param) => {
    const e = failure('chat', body);
    expect(e.code).toBe(code);
    expect(e.status).toBe(400);
    expect(e.param).toBe(param);
  });

  it('never echoes prompt text in an error', () => {
    const secret = 'my-secret-prompt-4242';
    const e = failure('chat', {
      model: 'm',
      messages: [
        { role: 'user', content: secret },
        { role: 7, content: secret },
      ],
    });
    expect(e.toBody()).not.toContain(secret);
    expect(JSON.parse(e.toBody())).toEqual({
      error: { message: expect.any(String), type: 'invalid_request_error', code: 'invalid_field', param: 'messages[1].role' },
    });
  });

  it('rewrites only the model name', () => {
    const input = parseRequestBody('chat', enc({ model: 'a', temperature: 0.5, messages: [{ role: 'user', content: 'é' }] }));
    const out = JSON.parse(serializeBody(input, 'org/B').toString('utf8'));
    expect(out).toEqual({ model: 'org/B', temperature: 0.5, messages: [{ role: 'user', content: 'é' }] });
  });
});
