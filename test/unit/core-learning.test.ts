import { describe, expect, it } from 'vitest';
import { Exchange } from '../../src/extproc/exchange.js';
import { fleetFrom, TWO_MODEL_YAML } from '../helpers/fleet.js';
import { logEvent, post, setHeaders, testEnv } from '../helpers/exchange.js';

const chat = (user: string) => ({
  body: Buffer.from(
    JSON.stringify({
      model: 'small',
      messages: [
        { role: 'system', content: 'S'.repeat(1200) },
        { role: 'user', content: user },
      ],
    }),
  ),
  end_of_stream: true,
});

describe('learning from the end of a request (Envoy access log)', () => {
  it('the endpoint that actually served learns the prompt, and the model arm gets a reward', () => {
    const env = testEnv(fleetFrom(TWO_MODEL_YAML.replace('max_body_bytes: 2048', 'max_body_bytes: 65536')));
    const ex = new Exchange(env);
    ex.handle({ request_headers: post('/v1/chat/completions') });
    const b = ex.handle({ request_body: chat('first') });
    const eps = setHeaders(b.request_body?.response.header_mutation?.set_headers)['x-gateway-destination-endpoint']?.split(',') ?? [];
    const retried = eps[1] as string;
    ex.close();
    // Envoy's access log: served by the first fallback after a retry, 80 ms to the first byte.
    env.router.ended(logEvent(b, { status: 200, served: retried, attempts: 2, ttfbMs: 80 }));
    expect(env.router.state.index.size(retried)).toBeGreaterThan(0);
    expect(env.router.state.bandit.arm('small')).toMatchObject({ n: 1 });
    expect(env.router.state.bandit.arm('small')?.latencyEmaMs).toBe(80);
    // Both the primary and the endpoint that served hold the prefix now; the next turn goes to one of them.
    const ex2 = new Exchange(env);
    ex2.handle({ request_headers: post('/v1/chat/completions') });
    const b2 = ex2.handle({ request_body: chat('second') });
    const next = setHeaders(b2.request_body?.response.header_mutation?.set_headers)['x-gateway-destination-endpoint']?.split(',')[0];
    expect([eps[0], retried]).toContain(next);
    ex2.close();
  });
});
