// Through a real Envoy: bad input gets OpenAI-shaped errors, a dead replica is
// routed around via the fallback list, and kvfleet being down fails closed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startStack, type Stack } from '../helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    sim: { decodeMsPerToken: 1, defaultMaxTokens: 2 },
    editFleet: (f) => {
      (f['server'] as Record<string, unknown>)['max_body_bytes'] = 65536;
    },
  });
});
afterAll(async () => {
  await stack?.stop();
});

const ok = { model: 'llama-3-8b', messages: [{ role: 'user', content: 'hi' }] };
/** After a kvfleet restart Envoy reconnects on its own; poll until a request succeeds. */
async function untilOk(s: Stack): Promise<number> {
  let status = 0;
  for (let i = 0; i < 50 && status !== 200; i++) {
    status = (await postJson(s.url, '/v1/chat/completions', ok)).status;
    if (status !== 200) await new Promise((r) => setTimeout(r, 100));
  }
  return status;
}
const totalRequests = (s: Stack) => [...s.llama.replicas, ...s.qwen.replicas].reduce((n, r) => n + r.stats().requests, 0);

describe('bad input through Envoy', () => {
  it.each([
    ['malformed JSON', '{"model": "llama-3-8b", "messages": [', 400, 'invalid_json', null],
    ['a wrong type', { model: 'llama-3-8b', messages: 'hello' }, 400, 'invalid_field', 'messages'],
    ['missing messages', { model: 'llama-3-8b' }, 400, 'missing_field', 'messages'],
    ['a bad message', { model: 'llama-3-8b', messages: [{ role: 'user', content: 'a' }, { content: 'b' }] }, 400, 'missing_field', 'messages[1].role'],
    ['an unknown model', { model: 'gpt-17', messages: [{ role: 'user', content: 'a' }] }, 404, 'unknown_model', 'model'],
    ['a body over the limit', { model: 'llama-3-8b', messages: [{ role: 'user', content: 'x'.repeat(70_000) }] }, 413, 'body_too_large', null],
  ])('answers %s with the right status and an error naming the field', async (_n, body, status, code, param) => {
    const before = totalRequests(stack);
    const res = await postJson(stack.url, '/v1/chat/completions', body);
    expect(res.status, stack.logs()).toBe(status);
    expect(res.headers.get('content-type')).toContain('application/json');
    const err = (await res.json()) as { error: { message: string; type: string; code: string; param: string | null } };
    expect(err.error.code).toBe(code);
    expect(err.error.param).toBe(param);
    expect(err.error.message.length).toBeGreaterThan(0);
    expect(totalRequests(stack)).toBe(before);
    // kvfleet keeps serving
    expect((await postJson(stack.url, '/v1/chat/completions', ok)).status).toBe(200);
  });

  it('answers a bad per-request header with 400 naming the header', async () => {
    const res = await postJson(stack.url, '/v1/chat/completions', ok, { 'x-kvfleet-priority': 'asap' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe('x-kvfleet-priority');
  });
});

describe('faults through Envoy', () => {
  it('keeps succeeding through the fallback endpoint while a replica refuses connections', async () => {
    const dead = stack.llama.replicas[0];
    const alive = stack.llama.replicas[1];
    if (dead === undefined || alive === undefined) throw new Error('two llama replicas expected');
    await dead.setFaults({ refuse: true });
    try {
      const statuses: number[] = [];
      const endpoints = new Set<string>();
      for (let i = 0; i < 10; i++) {
        const res = await postJson(stack.url, '/v1/chat/completions', { ...ok, messages: [{ role: 'user', content: `q${i}` }] });
        statuses.push(res.status);
        endpoints.add(res.headers.get('x-kvfleet-endpoint') ?? '');
        await res.arrayBuffer();
      }
      expect(
        statuses.every((s) => s === 200),
        stack.logs(),
      ).toBe(true);
      expect(endpoints).toEqual(new Set([`127.0.0.1:${alive.port}`]));
    } finally {
      await dead.setFaults({ refuse: false });
    }
  });

  it('fails closed while kvfleet is down, and recovers when it restarts without restarting Envoy', async () => {
    expect((await postJson(stack.url, '/v1/chat/completions', ok)).status).toBe(200);
    expect(await stack.kvfleet.stop()).toBe(0);
    const before = totalRequests(stack);
    for (let i = 0; i < 3; i++) {
      const res = await postJson(stack.url, '/v1/chat/completions', ok);
      // Envoy's own answer (local_reply_config): 503, retry-after, OpenAI-shaped.
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      const err = (await res.json()) as { error: { type: string; code: string } };
      expect(err.error).toMatchObject({ type: 'service_unavailable_error', code: 'router_unavailable' });
    }
    expect(totalRequests(stack)).toBe(before);

    await stack.kvfleet.start();
    expect(await untilOk(stack)).toBe(200);
  });

  it('drains on SIGTERM: a response streaming when kvfleet is told to stop still completes', async () => {
    const res = await postJson(stack.url, '/v1/chat/completions', { ...ok, stream: true, max_tokens: 400 });
    expect(res.status).toBe(200);
    const stopped = stack.kvfleet.stop();
    const text = await res.text();
    const events = text.split('\n\n').filter((e) => e.startsWith('data: '));
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(events.length).toBeGreaterThanOrEqual(401);
    expect(await stopped).toBe(0);
    await stack.kvfleet.start();
    expect(await untilOk(stack)).toBe(200);
  });
});
