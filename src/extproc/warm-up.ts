// JIT warm-up at start: drives the exchange machine (headers → body) and the request's end
// (an access log event) for every model with synthetic prompts, against a throwaway Router (its own
// live and learned state), so the first real request is not the one that pays for V8
// compiling the hot path (≈ 10 ms cold vs tens of µs warm). Nothing is recorded in the
// process's real state, logs or metrics.
import { performance } from 'node:perf_hooks';
import type { Fleet } from '../config/fleet.js';
import { seededRng } from '../core/rng.js';
import { createLearnedState } from '../core/learned/learned-state.js';
import { LiveEndpoints } from '../fleet/live-endpoints.js';
import { Router } from '../router/router.js';
import { exchangeEnv } from './exchange-env.js';
import { Exchange } from './exchange.js';
import type { HttpHeaders } from './proto-types.js';

const PATHS = { chat: '/v1/chat/completions', completion: '/v1/completions', embedding: '/v1/embeddings' } as const;

function headers(h: Record<string, string>): HttpHeaders {
  return { headers: { headers: Object.entries(h).map(([key, v]) => ({ key, raw_value: Buffer.from(v) })) } };
}

function body(type: keyof typeof PATHS, model: string, i: number): Buffer {
  const text = `warm-up prompt ${i % 7} `.repeat(60 + (i % 5) * 40);
  if (type === 'chat')
    return Buffer.from(
      JSON.stringify({
        model,
        messages: [
          { role: 'system', content: text },
          { role: 'user', content: `q${i}` },
        ],
      }),
    );
  if (type === 'completion') return Buffer.from(JSON.stringify({ model, prompt: text }));
  return Buffer.from(JSON.stringify({ model, input: text }));
}

/** Returns the milliseconds spent. */
export function warmUp(fleet: Fleet, rounds = 40): number {
  const started = performance.now();
  const live = new LiveEndpoints();
  const router = new Router({ fleet: () => fleet, live, endpoints: live, state: createLearnedState(fleet, seededRng(1)), now: () => performance.now() });
  const env = exchangeEnv(router, { newRequestId: () => 'warm-up' });
  for (let i = 0; i < rounds; i++) {
    for (const m of fleet.models) {
      const ex = new Exchange(env);
      ex.handle({ request_headers: headers({ ':method': 'POST', ':path': PATHS[m.type], 'x-request-id': 'warm-up' }) });
      const out = ex.handle({ request_body: { body: body(m.type, m.name, i), end_of_stream: true } });
      const served = out.request_body?.response.header_mutation?.set_headers?.find((h) => h.header.key === 'x-gateway-destination-endpoint');
      const key = ex.state.routed?.key;
      // The request's end, as Envoy's access log reports it.
      router.ended({
        kind: 'end',
        requestId: 'warm-up',
        key,
        status: 200,
        details: 'via_upstream',
        served: served?.header.raw_value.toString().split(',')[0],
        attempts: 1,
        ttfbMs: 5,
        durationMs: 10,
        headers: new Map(),
        offered: [],
      });
      ex.close();
    }
  }
  return performance.now() - started;
}
