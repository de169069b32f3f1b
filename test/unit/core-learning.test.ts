import { describe, expect, it } from 'vitest';
import { Exchange } from '../../src/extproc/exchange.js';
import { fleetFrom, TWO_MODEL_YAML } from '../helpers/fleet.js';
import { post, setHeaders, testEnv, headers } from '../helpers/exchange.js';

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

describe('learning from the response phase', () => {
  it('the endpoint that actually served learns the prompt, and the model arm gets a reward', () => {
    const env = testEnv(fleetFrom(TWO_MODEL_YAML.replace('max_body_bytes: 2048', 'max_body_bytes: 65536')));
    const ex = new Exchange(env);
    ex.handle({ request_headers: post('/v1/chat/completions') });
    const b = ex.handle({ request_body: chat('first') });
    const eps = setHeaders(b.request_body?.response.header_mutation?.set_headers)['x-gateway-destination-endpoint']?.split(',') ?? [];
    const retried = eps[1] as string;
    env.clock.t += 80;
    ex.handle({
      response_headers: headers({ ':status': '200' }),
      attributes: { 'envoy.filters.http.ext_proc': { fields: { 'upstream.address': { stringValue: retried } } } },
    });
    ex.close();
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
