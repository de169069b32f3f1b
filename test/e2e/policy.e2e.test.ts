// Policy, tenants and the hybrid fleet through a real Envoy (envoy/envoy.yaml: jwt_authn,
// header_mutation, the hosted provider cluster over TLS with the key injected by Envoy), real
// kvfleet on examples/fleet.yaml, simulated replicas, and the hosted stand-in (the simulator
// behind TLS, refusing requests without the provider key) whose request log shows what left.
import { createSign, generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOSTED_ID, postJson, startStack, type Stack } from '../helpers/stack.js';

// E-mail and phone: class confidential (examples/fleet.yaml): only llama-3-8b admits it.
const PII = 'Reach me at jane.doe@example.com or +1 415 555 0134.';
const ACME = { authorization: 'Bearer demo-key-acme' };
const BETA = { authorization: 'Bearer demo-key-beta' };

// A signing key of our own: the test replaces the demo JWKS in envoy.yaml with its public half.
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const JWKS = JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'e2e', alg: 'RS256', use: 'sig' }] });
function jwt(claims: Record<string, unknown>): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const head = `${b64({ alg: 'RS256', typ: 'JWT', kid: 'e2e' })}.${b64({ iss: 'https://auth.kvfleet.test', aud: 'kvfleet', iat: now, exp: now + 600, ...claims })}`;
  return `${head}.${createSign('RSA-SHA256').update(head).sign(privateKey).toString('base64url')}`;
}

function useTestJwks(config: unknown): void {
  const walk = (n: unknown): void => {
    if (Array.isArray(n)) n.forEach(walk);
    else if (n !== null && typeof n === 'object') {
      const o = n as Record<string, unknown>;
      const jwks = o['local_jwks'] as Record<string, unknown> | undefined;
      if (jwks !== undefined) jwks['inline_string'] = JWKS;
      Object.values(o).forEach(walk);
    }
  };
  walk(config);
}

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    sim: { decodeMsPerToken: 1, defaultMaxTokens: 4 },
    editEnvoy: useTestJwks,
    editFleet: (f) => {
      // Two consecutive failures open kvfleet's circuit: the dead-pool cases converge quickly.
      f['health'] = { failure_threshold: 2, open_ms: 60_000 };
      const tenants = f['tenants'] as Record<string, unknown>;
      // A tenant kept in one region: only qwen runs there.
      tenants['eu-only'] = { regions: ['eu-west-1'] };
      const models = f['models'] as Array<Record<string, unknown>>;
      const qwen = models.find((m) => m['name'] === 'qwen-2.5-7b');
      if (qwen !== undefined) qwen['region'] = 'eu-west-1';
      // The policy rule of the example keeps restricted data local; qwen is not local any more.
    },
  });
});
afterAll(async () => {
  await stack?.stop();
});

const chat = (model: string, content: string) => ({ model, messages: [{ role: 'user', content }] });
/** What reached the hosted provider's stand-in. */
const hostedLog = () => stack.hosted.replicas[0]?.requests() ?? [];
const clearHosted = () => stack.hosted.replicas[0]?.reset();

describe('hybrid fleet: the hosted provider through Envoy', () => {
  it('a public prompt for the hosted model reaches it over TLS, under its path prefix, with the key Envoy injected — never the client key', async () => {
    clearHosted();
    // beta may use the hosted model and sends public data (acme's default class, internal, may not leave).
    const res = await postJson(stack.url, '/v1/chat/completions', chat('hosted-gpt', 'What is the capital of France?'), BETA);
    const body = (await res.json()) as { kvfleet_sim?: { received_model: string } };
    expect(res.status, stack.logs()).toBe(200);
    expect(body.kvfleet_sim?.received_model).toBe(HOSTED_ID);
    expect(res.headers.get('x-kvfleet-model')).toBe('hosted-gpt');
    expect(res.headers.get('x-kvfleet-tenant')).toBe('beta');
    const log = hostedLog();
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ path: '/provider/v1/chat/completions', authorization: true, accepted: true });
    // Self-hosted replicas never see the client's Authorization either.
    await (await postJson(stack.url, '/v1/chat/completions', chat('llama-3-8b', 'hi'), ACME)).arrayBuffer();
    const replicaLog = stack.llama.replicas.flatMap((r) => r.requests());
    expect(replicaLog.length).toBeGreaterThan(0);
    expect(replicaLog.every((x) => !x.authorization)).toBe(true);
  });

  it('a PII prompt with model auto never reaches the hosted model; named, it is rerouted along the fallback order', async () => {
    clearHosted();
    for (let i = 0; i < 4; i++) {
      const res = await postJson(stack.url, '/v1/chat/completions', chat('auto', `${PII} (${i})`));
      expect(res.status).toBe(200);
      expect(res.headers.get('x-kvfleet-model')).not.toBe('hosted-gpt');
      expect(res.headers.get('x-kvfleet-model')).toBe('llama-3-8b');
      expect(res.headers.get('x-kvfleet-policy')).toBe('class=confidential;pii=email,phone;action=route_private');
      await res.arrayBuffer();
    }
    const named = await postJson(stack.url, '/v1/chat/completions', chat('hosted-gpt', PII));
    expect(named.status).toBe(200);
    expect(named.headers.get('x-kvfleet-model')).toBe('llama-3-8b');
    expect(named.headers.get('x-kvfleet-reason')).toContain('fallback-model:hosted-gpt');
    await named.arrayBuffer();
    expect(hostedLog()).toEqual([]);
  });

  it('redact: the body the provider receives holds placeholders, not the values', async () => {
    // kvfleet restarted on the fleet file with policy.pii.action: redact.
    clearHosted();
    const { parse, stringify } = await import('yaml');
    const { readFile, writeFile } = await import('node:fs/promises');
    const original = await readFile(stack.fleetFile, 'utf8');
    const fleet = parse(original) as Record<string, unknown>;
    const policy = fleet['policy'] as Record<string, unknown>;
    policy['pii'] = { action: 'redact' };
    await writeFile(stack.fleetFile, stringify(fleet));
    await stack.kvfleet.stop();
    await stack.kvfleet.start();
    try {
      // Redacted, the prompt stays public: the hosted model may take it.
      const res = await postJson(stack.url, '/v1/chat/completions', chat('hosted-gpt', PII));
      expect(res.status, stack.logs()).toBe(200);
      expect(res.headers.get('x-kvfleet-model')).toBe('hosted-gpt');
      expect(res.headers.get('x-kvfleet-policy')).toBe('class=public;pii=email,phone;action=redact');
      await res.arrayBuffer();
      const log = hostedLog();
      expect(log).toHaveLength(1);
      const received = log[0]?.body ?? '';
      expect(received).toContain('Reach me at [REDACTED_EMAIL] or [REDACTED_PHONE].');
      expect(received).not.toContain('jane.doe');
      expect(received).not.toContain('555');
    } finally {
      await writeFile(stack.fleetFile, original);
      await stack.kvfleet.stop();
      await stack.kvfleet.start();
    }
  });
});

describe('tenants through Envoy', () => {
  it('API keys name tenants; a wrong key is a 401; a forged tenant header is removed before anyone reads it', async () => {
    const a = await postJson(stack.url, '/v1/chat/completions', chat('auto', 'hi'), ACME);
    expect(a.headers.get('x-kvfleet-tenant')).toBe('acme');
    await a.arrayBuffer();
    const wrong = await postJson(stack.url, '/v1/chat/completions', chat('auto', 'hi'), { authorization: 'Bearer demo-key-acme-not' });
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
    const forged = await postJson(stack.url, '/v1/chat/completions', chat('auto', 'hi'), { 'x-tenant-id': 'acme' });
    expect(forged.status).toBe(200);
    expect(forged.headers.get('x-kvfleet-tenant')).toBe('guest');
    await forged.arrayBuffer();
  });

  it("a tenant cannot use another tenant's models, and routes with its own strategy", async () => {
    const denied = await postJson(stack.url, '/v1/chat/completions', chat('qwen', 'hi'), BETA);
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as { error: { code: string; message: string } }).error).toMatchObject({
      code: 'model_not_allowed',
      message: "tenant 'beta' may not use model 'qwen-2.5-7b'",
    });
    const own = await postJson(stack.url, '/v1/chat/completions', chat('auto', 'hi'), BETA);
    expect(own.status).toBe(200);
    expect(own.headers.get('x-kvfleet-strategy')).toBe('cost_first');
    expect(['llama-3-8b', 'hosted-gpt']).toContain(own.headers.get('x-kvfleet-model'));
    await own.arrayBuffer();
  });

  it('a JWT verified by Envoy names the tenant (jwt_authn metadata and claim header); a forged JWT is a 401', async () => {
    const ok = await postJson(stack.url, '/v1/chat/completions', chat('auto', 'hi'), { authorization: `Bearer ${jwt({ tenant: 'eu-only', sub: 'u1' })}` });
    expect(ok.status, stack.logs()).toBe(200);
    expect(ok.headers.get('x-kvfleet-tenant')).toBe('eu-only');
    // Residency: eu-only's requests stay on the eu-west-1 model.
    expect(ok.headers.get('x-kvfleet-model')).toBe('qwen-2.5-7b');
    await ok.arrayBuffer();
    const forgedSig = `${jwt({ tenant: 'acme' }).slice(0, -8)}AAAAAAAA`;
    const bad = await postJson(stack.url, '/v1/chat/completions', chat('auto', 'hi'), { authorization: `Bearer ${forgedSig}` });
    expect(bad.status).toBe(401);
    await bad.arrayBuffer();
  });

  it('neither keys nor Authorization headers appear in kvfleet or Envoy logs', async () => {
    const token = jwt({ tenant: 'acme' });
    await (await postJson(stack.url, '/v1/chat/completions', chat('auto', 'hi'), { authorization: `Bearer ${token}` })).arrayBuffer();
    await new Promise((r) => setTimeout(r, 300));
    for (const secret of ['demo-key-acme', 'demo-key-beta', token.split('.')[2] ?? token]) {
      expect(stack.kvfleet.logs()).not.toContain(secret);
      expect(stack.envoy.logs()).not.toContain(secret);
    }
  });
});

describe('model fallback and dead pools', () => {
  it('every private replica dead: PII prompts get 503 and never the hosted model', async () => {
    clearHosted();
    for (const r of [...stack.llama.replicas, ...stack.qwen.replicas]) await r.setFaults({ refuse: true });
    try {
      let kvfleetSaid: string | undefined;
      for (let i = 0; i < 12 && kvfleetSaid === undefined; i++) {
        const res = await postJson(stack.url, '/v1/chat/completions', chat('auto', `${PII} ${i}`));
        expect(res.status).toBe(503);
        const code = ((await res.json()) as { error: { code: string } }).error.code;
        if (code === 'no_compliant_endpoint') kvfleetSaid = code;
      }
      expect(kvfleetSaid).toBe('no_compliant_endpoint');
      expect(hostedLog()).toEqual([]);
    } finally {
      for (const r of [...stack.llama.replicas, ...stack.qwen.replicas]) await r.setFaults({ refuse: false });
    }
  });

  it('the primary pool dead: a named model falls back to the next model of routing.fallback', async () => {
    for (const r of stack.llama.replicas) await r.setFaults({ refuse: true });
    try {
      let fellBack: Response | undefined;
      for (let i = 0; i < 12 && fellBack === undefined; i++) {
        const res = await postJson(stack.url, '/v1/chat/completions', chat('llama-3-8b', `fallback ${i}`));
        if (res.status === 200) fellBack = res;
        else await res.arrayBuffer();
      }
      expect(fellBack, stack.logs()).toBeDefined();
      expect(fellBack?.headers.get('x-kvfleet-model')).toBe('qwen-2.5-7b');
      expect(fellBack?.headers.get('x-kvfleet-reason')).toContain('fallback-model:llama-3-8b');
      await fellBack?.arrayBuffer();
    } finally {
      for (const r of stack.llama.replicas) await r.setFaults({ refuse: false });
    }
  });
});
