// Issue 12 through a real Envoy running envoy/envoy.yaml:
//   - every malformed request gets a status line, a 4xx and the OpenAI error JSON — Envoy's
//     own codec and HCM errors included (raw bytes on a socket), and kvfleet's parser limits;
//   - nothing a client sends makes kvfleet log an error;
//   - SIGKILL of kvfleet in the middle of a streamed completion does not cut it; new requests
//     fail closed while kvfleet is down; it recovers without restarting Envoy;
//   - a replica killed in the middle of generating: its requests are retried on another
//     replica (nothing had reached the client), and kvfleet stops listing it.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/tools/ports.js';
import { postJson, startStack, type Stack } from '../helpers/stack.js';
import { openStream } from '../helpers/streamed.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    sim: { decodeMsPerToken: 2, defaultMaxTokens: 4 },
    editFleet: (f) => {
      (f['server'] as Record<string, unknown>)['max_body_bytes'] = 262144;
      // Scrape often so a dead replica is noticed quickly (two refused scrapes).
      f['scrape'] = { ...(f['scrape'] ?? {}), interval_ms: 200 };
    },
  });
});
afterAll(async () => {
  await stack?.stop();
});

const chat = (content: string, extra: Record<string, unknown> = {}) => ({ model: 'llama-3-8b', messages: [{ role: 'user', content }], ...extra });

interface RawReply {
  readonly statusLine: string;
  readonly status: number;
  readonly headers: Map<string, string>;
  readonly body: string;
}

/** Write raw bytes to Envoy's listener; read until the connection closes or the reply is whole. */
function raw(bytes: string | Buffer): Promise<RawReply> {
  const url = new URL(stack.url);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    const finish = () => {
      clearTimeout(timer);
      sock.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers = new Map(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      resolve({ statusLine, status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0), headers, body: rest.join('\r\n\r\n') });
    };
    const timer = setTimeout(finish, 4000);
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const len = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end))?.[1];
      if (end >= 0 && len !== undefined && text.length >= end + 4 + Number(len)) finish();
    });
    sock.on('end', finish);
    sock.on('error', (e) => (chunks.length > 0 ? finish() : reject(e)));
    sock.write(bytes);
  });
}

const body = JSON.stringify(chat('hi'));
const post = (headerLines: string[], payload = body, version = 'HTTP/1.1', target = '/v1/chat/completions') =>
  `POST ${target} ${version}\r\n${headerLines.join('\r\n')}\r\n\r\n${payload}`;
const HOST = 'host: kvfleet.test';

describe('malformed HTTP through Envoy: a status line, a 4xx, the OpenAI error JSON', () => {
  const corpus: Array<[string, string | Buffer]> = [
    ['HTTP/1.0', post([HOST, `content-length: ${body.length}`], body, 'HTTP/1.0')],
    ['a content-length that is not a number', post([HOST, 'content-length: abc'])],
    ['two different content-lengths', post([HOST, `content-length: ${body.length}`, `content-length: ${body.length + 1}`])],
    ['content-length with transfer-encoding', post([HOST, `content-length: ${body.length}`, 'transfer-encoding: chunked'])],
    ['a garbage request line', 'HELLO THERE\r\n\r\n'],
    ['an unknown method', `BREW /v1/chat/completions HTTP/1.1\r\n${HOST}\r\ncontent-length: 2\r\n\r\n{}`],
    ['a 100 KB header', post([HOST, `x-big: ${'a'.repeat(100 * 1024)}`, `content-length: ${body.length}`])],
    ['a NUL in a header value', Buffer.from(post([HOST, 'x-bad: a\0b', `content-length: ${body.length}`]), 'latin1')],
    ['%00 in the path', post([HOST, `content-length: ${body.length}`], body, 'HTTP/1.1', '/v1/chat%00/completions')],
    ['no Host header', post([`content-length: ${body.length}`])],
    ['a #fragment in the path', post([HOST, `content-length: ${body.length}`], body, 'HTTP/1.1', '/v1/chat/completions#frag')],
  ];

  it.each(corpus)('%s', async (_name, bytes) => {
    const r = await raw(bytes);
    expect(r.statusLine, `${stack.logs()}`).toMatch(/^HTTP\/1\.1 4\d\d /);
    expect(r.headers.get('content-type')).toContain('application/json');
    const err = JSON.parse(r.body) as { error: { message: string; type: string; code: string; param: null } };
    expect(Object.keys(err.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(err.error.type).toBe('invalid_request_error');
    expect(err.error.code.length).toBeGreaterThan(0);
  });

  it('kvfleet is still serving afterwards', async () => {
    expect((await postJson(stack.url, '/v1/chat/completions', chat('still there?'))).status).toBe(200);
  });
});

describe("kvfleet's own limits through Envoy", () => {
  it('a body nested 5,000 levels deep: 400 invalid_json, nothing learned, nothing routed', async () => {
    const before = [...stack.llama.replicas, ...stack.qwen.replicas].map((r) => r.stats().requests);
    const deep = `{"model":"llama-3-8b","messages":[{"role":"user","content":"x"}],"tools":[${'['.repeat(5000)}${']'.repeat(5000)}]}`;
    const res = await postJson(stack.url, '/v1/chat/completions', deep);
    expect(res.status).toBe(400);
    const err = (await res.json()) as { error: { code: string; message: string } };
    expect(err.error.code).toBe('invalid_json');
    expect(err.error.message).toContain('128 levels');
    expect([...stack.llama.replicas, ...stack.qwen.replicas].map((r) => r.stats().requests)).toEqual(before);
  });

  it('GET /v1/models/%ZZ is a 404, not a 500', async () => {
    const res = await fetch(`${stack.url}/v1/models/%ZZ`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unknown_model');
  });

  it('a 10,000-character x-request-id is not echoed (a generated id is)', async () => {
    const res = await postJson(stack.url, '/v1/chat/completions', chat('hi'), { 'x-request-id': 'r'.repeat(10_000) });
    expect(res.status).toBe(200);
    const id = res.headers.get('x-kvfleet-request-id') ?? '';
    expect(id.length).toBeGreaterThan(0);
    expect(id.length).toBeLessThanOrEqual(128);
  });

  it('nothing a client sent made kvfleet log an error', () => {
    const errors = stack.kvfleet.lines().filter((l) => Number(l['level']) >= 50);
    expect(errors).toEqual([]);
  });
});

describe('kvfleet dies while a completion streams', () => {
  it('SIGKILL mid-stream: the stream completes; new requests fail closed; kvfleet comes back without restarting Envoy', async () => {
    const res = await postJson(stack.url, '/v1/chat/completions', chat('a long answer', { stream: true, max_tokens: 1500 }));
    expect(res.status).toBe(200);
    const stream = await openStream(res);
    expect(stream.first.includes('[DONE]')).toBe(false);
    stack.kvfleet.kill();
    const text = await stream.rest();
    const events = text.split('\n\n').filter((e) => e.startsWith('data: '));
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(events.length).toBeGreaterThanOrEqual(1501);

    const down = await postJson(stack.url, '/v1/chat/completions', chat('anyone?'));
    expect(down.status).toBe(503);
    expect(((await down.json()) as { error: { code: string } }).error.code).toBe('router_unavailable');

    await stack.kvfleet.start();
    await waitFor('a request through the restarted kvfleet', async () => (await postJson(stack.url, '/v1/chat/completions', chat('back?'))).status === 200);
  });
});

describe('a replica dies while generating', () => {
  it('its requests are retried on the other replica (none fails, within the retry budget), and kvfleet stops listing it', async () => {
    const [victim, survivor] = stack.llama.replicas;
    if (victim === undefined || survivor === undefined) throw new Error('two llama replicas expected');
    const victimAddr = `127.0.0.1:${victim.port}`;
    const survivorAddr = `127.0.0.1:${survivor.port}`;
    // 6 non-streamed completions of ~0.4 s each, taking turns on the two replicas (least_loaded);
    // the victim dies 150 ms in, with 3 generating. (The pool's retry budget allows 3 concurrent
    // retries at this load: envoy/envoy.yaml, retry_budget.)
    const before = victim.stats().requests;
    const inflight = Array.from({ length: 6 }, (_, i) =>
      postJson(stack.url, '/v1/chat/completions', chat(`job ${i}`, { max_tokens: 200 }), { 'x-kvfleet-strategy': 'least_loaded' }).then(async (r) => ({
        status: r.status,
        endpoint: r.headers.get('x-kvfleet-endpoint'),
        text: await r.text(),
      })),
    );
    await new Promise((r) => setTimeout(r, 150));
    const startedOnVictim = victim.stats().requests - before;
    await victim.crash();
    try {
      const results = await Promise.all(inflight);
      expect(startedOnVictim).toBeGreaterThan(0);
      expect(
        results.filter((r) => r.status !== 200),
        stack.logs(),
      ).toEqual([]);
      // Every one was answered by the survivor, the victim's after a retry.
      expect(results.map((r) => r.endpoint)).toEqual(results.map(() => survivorAddr));
      // Within one failure window the dead replica leaves kvfleet's lists.
      const fleet = async () => (await (await fetch(`${stack.kvfleet.adminUrl}/fleet`)).json()) as { endpoints: Array<{ address: string; healthy: boolean }> };
      await waitFor(
        'kvfleet to mark the dead replica unhealthy',
        async () => (await fleet()).endpoints.find((e) => e.address === victimAddr)?.healthy === false,
      );
      for (let i = 0; i < 5; i++) {
        const r = await postJson(stack.url, '/v1/chat/completions', chat(`after ${i}`), { 'x-request-id': `after-dead-${i}` });
        expect(r.status).toBe(200);
        const d = (await (await fetch(`${stack.kvfleet.adminUrl}/debug/decisions/after-dead-${i}`)).json()) as { endpoints: string[] };
        expect(d.endpoints).not.toContain(victimAddr);
      }
    } finally {
      await victim.setFaults({ refuse: false });
    }
  });
});
