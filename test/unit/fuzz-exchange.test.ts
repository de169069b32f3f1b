// Property tests over what a client can send, driven through the ext_proc exchange without
// a socket (both body modes): bodies shaped like the OpenAI schema with wrong types, odd
// values and deep nesting; raw bytes; arbitrary headers, methods and paths. For every input:
//   - the exchange answers (never throws) with a route, or with an immediate response whose
//     status is a 4xx (or 200 for GET /v1/models…) and whose body is the OpenAI error JSON;
//   - kvfleet never reports an internal error (no 5xx, no stack in the log);
//   - a rejected request teaches nothing: no prefix blocks, session pins, decisions, bandit
//     pulls or in-flight slots;
//   - no answer echoes the prompt's text.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Exchange } from '../../src/extproc/exchange.js';
import { MAX_JSON_DEPTH } from '../../src/request/parse-body.js';
import type { ProcessingRequest, ProcessingResponse } from '../../src/extproc/proto-types.js';
import { fleetFrom, TWO_MODEL_YAML } from '../helpers/fleet.js';
import { headers, post, testEnv, type TestEnv } from '../helpers/exchange.js';

const MARK = 'zq-secret-prompt-text';

type Mode = 'buffered' | 'duplex';

interface Outcome {
  readonly answers: ProcessingResponse[];
  readonly internal: unknown[];
}

/** One request: headers, then the body in 1..3 chunks (duplex) or at once (buffered). */
function drive(env: TestEnv, mode: Mode, head: ProcessingRequest['request_headers'], body: Buffer | undefined, cuts: number[]): Outcome {
  const internal: unknown[] = [];
  const ex = new Exchange({ ...env, onInternalError: (e) => internal.push(e) });
  const protocol = mode === 'duplex' ? { protocol_config: { request_body_mode: 'FULL_DUPLEX_STREAMED' as const } } : {};
  const answers: ProcessingResponse[] = [...ex.respondNow({ request_headers: head, ...protocol })];
  if (body !== undefined && !ex.finished) {
    if (mode === 'buffered') answers.push(...ex.respondNow({ request_body: { body, end_of_stream: true } }));
    else {
      const points = [...new Set(cuts.map((c) => c % (body.length + 1)))].sort((a, b) => a - b);
      let at = 0;
      for (const p of [...points, body.length]) {
        if (p < at) continue;
        answers.push(...ex.respondNow({ request_body: { body: body.subarray(at, p), end_of_stream: p === body.length } }));
        at = p;
        if (p === body.length) break;
      }
    }
  }
  ex.close();
  return { answers, internal };
}

function learned(env: TestEnv) {
  const st = env.router.state;
  return {
    blocks: st.index.stats().blocks,
    pins: st.sessions.size,
    decisions: env.router.decisions.size,
    pulls: ['small', 'big', 'tiny'].map((m) => st.bandit.arm(m)?.n ?? 0).reduce((a, b) => a + b, 0),
    inflight: env.live.snapshot().reduce((n, e) => n + e.inflight, 0),
    tracked: env.router.ends.inflight,
  };
}

/** Every immediate answer: a 4xx (or a 200 of kvfleet's own GET endpoints) with the OpenAI error JSON for errors. */
function checkAnswers(o: Outcome): { immediate: boolean } {
  expect(o.internal).toEqual([]);
  let immediate = false;
  for (const a of o.answers) {
    const text = JSON.stringify(a, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('latin1') : v));
    const ir = a.immediate_response;
    if (ir === undefined) continue;
    immediate = true;
    const status = ir.status.code;
    expect(status === 200 || (status >= 400 && status < 500), `status ${status}`).toBe(true);
    if (status >= 400) {
      const body = JSON.parse(ir.body?.toString('utf8') ?? '') as { error?: Record<string, unknown> };
      expect(Object.keys(body.error ?? {}).sort()).toEqual(['code', 'message', 'param', 'type']);
      expect(typeof body.error?.['message']).toBe('string');
      expect(text).not.toContain(MARK);
    }
  }
  return { immediate };
}

// ── arbitraries ─────────────────────────────────────────────────────────────────
const scalar = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.double({ noNaN: true }), fc.boolean(), fc.constant(null), fc.constant(MARK));
const json = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.dictionary(fc.string({ maxLength: 8 }), tie('value'), { maxKeys: 4 }),
})).value;

const content = fc.oneof(
  fc.constant(MARK),
  fc.string({ maxLength: 40 }),
  fc.array(fc.oneof(fc.record({ type: fc.constantFrom('text', 'image_url', 'x'), text: fc.oneof(fc.constant(MARK), json) }), json), { maxLength: 3 }),
  json,
);
const message = fc.oneof(fc.record({ role: fc.oneof(fc.constantFrom('system', 'user', 'assistant', 'tool'), json), content }, { requiredKeys: [] }), json);
const model = fc.oneof(fc.constantFrom('small', 'big', 'tiny', 'auto', 'gpt-9', ''), json);
const chatBody = fc.record(
  {
    model,
    messages: fc.oneof(fc.array(message, { maxLength: 4 }), json),
    stream: fc.oneof(fc.boolean(), json),
    max_tokens: fc.oneof(fc.integer({ min: -5, max: 5000 }), json),
    tools: fc.oneof(fc.array(json, { maxLength: 2 }), json),
    response_format: fc.oneof(fc.record({ type: fc.constantFrom('json_object', 'text') }), json),
    user: json,
  },
  { requiredKeys: [] },
);
/** A valid request with an object nested `depth` levels deep in it (a JSON-schema tool gone wild). */
const deepBody = (depth: number) =>
  Buffer.from(`{"model":"tiny","messages":[{"role":"user","content":"${MARK}"}],"tools":[${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}]}`);
/** Levels above the tool object: the body itself and the tools array. */
const OUTER_LEVELS = 2;
const mode = fc.constantFrom<Mode>('buffered', 'duplex');
const cuts = fc.array(fc.nat(), { maxLength: 3 });

const PATHS = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings'];

describe('fuzzing the exchange (no socket)', () => {
  // Bodies up to 64 KiB (the deep-nesting case reaches 36 KB).
  const fleet = fleetFrom(TWO_MODEL_YAML.replace('max_body_bytes: 2048', 'max_body_bytes: 65536'));

  it('bodies shaped like OpenAI requests: a route or a clean 4xx; rejected ones teach nothing', () => {
    fc.assert(
      fc.property(chatBody, fc.constantFrom(...PATHS), mode, cuts, (b, path, m, c) => {
        const env = testEnv(fleet);
        const before = learned(env);
        const o = drive(env, m, post(path), Buffer.from(JSON.stringify(b)), c);
        const { immediate } = checkAnswers(o);
        if (immediate) expect(learned(env)).toEqual(before);
      }),
      { numRuns: 400 },
    );
  });

  it('raw bytes as the body: 400 invalid_json (or a route when they happen to be a valid request)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), mode, cuts, (bytes, m, c) => {
        const env = testEnv(fleet);
        const o = drive(env, m, post('/v1/chat/completions'), Buffer.from(bytes), c);
        checkAnswers(o);
        expect(learned(env)).toMatchObject({ blocks: 0, decisions: 0, inflight: 0 });
      }),
      { numRuns: 300 },
    );
  });

  it('any nesting depth: refused before a decision above the limit, routed below it, never a 500', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), mode, (depth, m) => {
        const env = testEnv(fleet);
        const o = drive(env, m, post('/v1/chat/completions'), deepBody(depth), []);
        const { immediate } = checkAnswers(o);
        expect(immediate).toBe(depth + OUTER_LEVELS > MAX_JSON_DEPTH);
        if (immediate) {
          expect(learned(env)).toMatchObject({ blocks: 0, decisions: 0, inflight: 0, tracked: 0 });
          const err = JSON.parse(o.answers.find((a) => a.immediate_response)?.immediate_response?.body?.toString() ?? '{}') as { error: { code: string } };
          expect(err.error.code).toBe('invalid_json');
        }
      }),
      {
        numRuns: 60,
        examples: [
          [MAX_JSON_DEPTH - OUTER_LEVELS, 'buffered'],
          [MAX_JSON_DEPTH - OUTER_LEVELS + 1, 'duplex'],
          [5000, 'buffered'],
        ],
      },
    );
  });

  it('arbitrary headers, methods and paths: a route, kvfleet’s own answer, or a clean 4xx', () => {
    const headerName = fc.oneof(
      fc.constantFrom(
        'x-request-id',
        'x-session-id',
        'x-kvfleet-strategy',
        'x-kvfleet-models',
        'x-kvfleet-priority',
        'x-kvfleet-data-class',
        'authorization',
        'content-type',
      ),
      fc.string({ minLength: 1, maxLength: 20 }).map((s) => s.toLowerCase()),
    );
    // (The prompt marker stays in the body: a header value, e.g. x-request-id, may be echoed.)
    const headerValue = fc.oneof(fc.string({ maxLength: 30 }), fc.string({ minLength: 200, maxLength: 3000 }), fc.constant('%ZZ'));
    const path = fc.oneof(
      fc.constantFrom(...PATHS, '/v1/models', '/v1/models/%ZZ', '/v1/models/%', '/v1/models/small', '/', '/v2/x', ''),
      fc.string({ maxLength: 40 }).map((s) => `/v1/models/${s}`),
      fc.string({ maxLength: 40 }),
    );
    const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'BREW', '');
    fc.assert(
      fc.property(method, path, fc.dictionary(headerName, headerValue, { maxKeys: 6 }), fc.boolean(), mode, (meth, p, h, endOfStream, m) => {
        const env = testEnv(fleet);
        const head = headers({ ...h, ':method': meth, ':path': p }, endOfStream);
        const body = endOfStream ? undefined : Buffer.from(JSON.stringify({ model: 'small', messages: [{ role: 'user', content: MARK }] }));
        const o = drive(env, m, head, body, []);
        const { immediate } = checkAnswers(o);
        // An echoed request id is a short printable token, never the 3,000-character one sent.
        for (const a of o.answers) {
          const ids = (a.immediate_response?.headers?.set_headers ?? []).filter((x) => x.header.key === 'x-kvfleet-request-id');
          for (const id of ids) expect(id.header.raw_value.length).toBeLessThanOrEqual(128);
        }
        if (immediate) expect(learned(env)).toMatchObject({ blocks: 0, decisions: 0, inflight: 0, tracked: 0 });
      }),
      { numRuns: 400 },
    );
  });
});
