// `kvfleet demo`: simulated replicas of two self-hosted models and a hosted provider's
// stand-in (the simulator behind TLS, refusing requests without the key Envoy injects) +
// kvfleet on examples/fleet.yaml + a real Envoy on envoy/envoy.yaml (fixed ports 10000,
// 9901, 9002, 18001-2, 18011-2, 18443), a handful of requests through Envoy, each routing
// decision printed from the response headers, then everything shut down.
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { createLogger } from '../../obs/logger.js';
import { locateEnvoy } from '../envoy/locate.js';
import { serve } from '../../serve.js';
import { startSim, type SimHandle } from '../sim/index.js';
import { startEnvoyProcess } from '../envoy/envoy-process.js';
import { busyPorts } from '../ports.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const ENVOY_URL = 'http://127.0.0.1:10000';
const ENVOY_ADMIN = 'http://127.0.0.1:9901';
/** Envoy listener and admin, kvfleet gRPC and admin, the simulated replicas, the hosted stand-in. */
const DEMO_PORTS = [10000, 9901, 9002, 9003, 18001, 18002, 18011, 18012, 18443];

interface Row {
  label: string;
  status: number;
  model: string;
  endpoint: string;
  strategy: string;
  affinity: string;
  policy: string;
  reason: string;
  us: string;
  note: string;
}

function rowFrom(label: string, res: Response, note: string): Row {
  const h = (n: string) => res.headers.get(n) ?? '-';
  return {
    label,
    status: res.status,
    model: h('x-kvfleet-model'),
    endpoint: h('x-kvfleet-endpoint'),
    strategy: h('x-kvfleet-strategy'),
    affinity: h('x-kvfleet-affinity'),
    policy: `${h('x-kvfleet-tenant') === '-' ? '' : `${h('x-kvfleet-tenant')} `}${h('x-kvfleet-policy')}`,
    reason: h('x-kvfleet-reason'),
    us: h('x-kvfleet-decision-us'),
    note,
  };
}

function printTable(rows: Row[]): void {
  const cols: Array<[keyof Row, string]> = [
    ['label', 'request'],
    ['status', 'status'],
    ['model', 'x-kvfleet-model'],
    ['endpoint', 'endpoint'],
    ['strategy', 'strategy'],
    ['affinity', 'affinity'],
    ['policy', 'tenant policy'],
    ['reason', 'reason'],
    ['us', 'decision µs'],
    ['note', 'what came back'],
  ];
  const width = cols.map(([k, t]) => Math.max(t.length, ...rows.map((r) => String(r[k]).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(width[i] ?? 0)).join('  ');
  process.stdout.write(`${line(cols.map(([, t]) => t))}\n${line(width.map((w) => '-'.repeat(w)))}\n`);
  for (const r of rows) process.stdout.write(`${line(cols.map(([k]) => String(r[k])))}\n`);
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${ENVOY_URL}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

export async function runDemo(): Promise<number> {
  const envoyBin = locateEnvoy(ROOT);
  if (envoyBin === undefined) {
    process.stderr.write('kvfleet demo: no Envoy binary; run `bash scripts/setup-envoy.sh` (or `npm run demo`, which does)\n');
    return 1;
  }
  // The demo's fixed ports (envoy/envoy.yaml, examples/fleet.yaml): all free, or one clear line.
  const busy = await busyPorts(DEMO_PORTS);
  if (busy.length > 0) {
    process.stderr.write(
      `kvfleet demo: port${busy.length > 1 ? 's' : ''} ${busy.join(', ')} on 127.0.0.1 already in use (another demo, kvfleet or Envoy still running?); stop it and run the demo again\n`,
    );
    return 3;
  }
  const cleanups: Array<() => Promise<unknown>> = [];
  const say = (s: string) => process.stdout.write(`${s}\n`);
  try {
    const sims: SimHandle[] = [];
    for (const [model, basePort] of [
      ['meta-llama/Meta-Llama-3-8B-Instruct', 18001],
      ['Qwen/Qwen2.5-7B-Instruct', 18011],
    ] as const) {
      const sim = await startSim({ replicas: 2, basePort, model, decodeMsPerToken: 5, defaultMaxTokens: 8 });
      cleanups.push(() => sim.close());
      sims.push(sim);
      say(`sim: ${model} on ${sim.replicas.map((r) => `127.0.0.1:${r.port}`).join(', ')}`);
    }
    // The hosted provider's stand-in: TLS with the demo certificate, the API under /provider, 401
    // without the provider key (envoy/demo/, injected by Envoy on cluster pool-hosted-demo).
    const hosted = await startSim({
      replicas: 1,
      basePort: 18443,
      model: 'gpt-4o-mini',
      decodeMsPerToken: 5,
      defaultMaxTokens: 8,
      tlsCert: join(ROOT, 'envoy', 'demo', 'hosted-server.pem'),
      tlsKey: join(ROOT, 'envoy', 'demo', 'hosted-server-key.pem'),
      requireKey: 'sk-demo-provider-key-not-a-real-secret',
      pathPrefix: '/provider',
    });
    cleanups.push(() => hosted.close());
    say(`sim: gpt-4o-mini (hosted provider stand-in, TLS) on 127.0.0.1:${hosted.replicas[0]?.port ?? '?'}`);
    const kv = await serve({ fleetPath: join(ROOT, 'examples', 'fleet.yaml'), logger: createLogger('warn') });
    cleanups.push(() => kv.stop(2000));
    say(`kvfleet: ext_proc on 127.0.0.1:${kv.grpcPort}, admin on http://127.0.0.1:${kv.adminPort}`);
    const envoy = await startEnvoyProcess({ binary: envoyBin, configFile: join(ROOT, 'envoy', 'envoy.yaml'), adminUrl: ENVOY_ADMIN, cwd: ROOT });
    cleanups.push(() => envoy.stop());
    say(`envoy: ${envoyBin} listening on ${ENVOY_URL}\n`);

    const rows: Row[] = [];
    // A system prompt long enough (~400 tokens) for the prefix cache to matter.
    const rules = Array.from({ length: 24 }, (_, i) => `Rule ${i + 1}: answer precisely, cite the section, keep it short.`).join(' ');
    const system = { role: 'system', content: `You are the concise assistant of the kvfleet demo. ${rules}` };
    const turn1 = [system, { role: 'user', content: 'What is a KV cache?' }];
    let res = await post('/v1/chat/completions', { model: 'llama-3-8b', messages: turn1 }, { 'x-request-id': 'demo-1' });
    let j = (await res.json()) as { kvfleet_sim?: { received_model?: string; cached_tokens?: number }; choices?: Array<{ message?: { content?: string } }> };
    rows.push(rowFrom('chat llama-3-8b', res, `replica got model=${j.kvfleet_sim?.received_model ?? '?'}`));
    const answer = j.choices?.[0]?.message?.content ?? '';

    res = await post(
      '/v1/chat/completions',
      { model: 'llama-3-8b', messages: [...turn1, { role: 'assistant', content: answer }, { role: 'user', content: 'And prefix caching?' }] },
      { 'x-request-id': 'demo-1b' },
    );
    j = (await res.json()) as typeof j;
    rows.push(rowFrom('same chat, turn 2', res, `replica reused ${j.kvfleet_sim?.cached_tokens ?? 0} cached prompt tokens`));

    res = await post('/v1/chat/completions', { model: 'auto', messages: [{ role: 'user', content: 'Which model answers me?' }] }, { 'x-request-id': 'demo-2' });
    j = (await res.json()) as typeof j;
    rows.push(rowFrom('chat auto', res, `strategy chose; replica got model=${j.kvfleet_sim?.received_model ?? '?'}`));

    res = await post(
      '/v1/chat/completions',
      { model: 'qwen', stream: true, messages: [system, { role: 'user', content: 'Stream a short answer.' }] },
      { 'x-request-id': 'demo-3' },
    );
    const sse = await res.text();
    const chunks = sse.split('\n\n').filter((e) => e.startsWith('data: '));
    rows.push(rowFrom('stream qwen (SSE)', res, `${chunks.length - 1} chunks, ends with ${chunks.at(-1) ?? '?'}`));

    try {
      const { default: OpenAI } = await import('openai');
      // The demo fleet's tenant acme (any other key is a 401; no key at all is the guest tenant).
      const client = new OpenAI({ baseURL: `${ENVOY_URL}/v1`, apiKey: 'demo-key-acme', maxRetries: 0 });
      const { data, response } = await client.chat.completions
        .create({ model: 'qwen-2.5-7b', messages: [{ role: 'user', content: 'Hello from the openai client' }], max_tokens: 4 })
        .withResponse();
      rows.push(rowFrom('openai npm client', response, `${data.usage?.completion_tokens ?? '?'} tokens: "${(data.choices[0]?.message.content ?? '').trim()}"`));
    } catch (e) {
      say(`(openai client step skipped: ${(e as Error).message})`);
    }

    res = await post('/v1/chat/completions', { model: 'gpt-17', messages: [{ role: 'user', content: 'hi' }] }, { 'x-request-id': 'demo-5' });
    const err = (await res.json()) as { error?: { code?: string; param?: string } };
    rows.push(rowFrom('unknown model', res, `error code=${err.error?.code ?? '?'} param=${err.error?.param ?? '?'}`));

    res = await post(
      '/v1/chat/completions',
      { model: 'llama-3-8b', messages: [system, { role: 'user', content: 'forged' }] },
      { 'x-kvfleet-cluster': 'pool-qwen-2.5-7b', 'x-request-id': 'demo-6' },
    );
    j = (await res.json()) as typeof j;
    rows.push(rowFrom('forged cluster header', res, `ignored; replica got model=${j.kvfleet_sim?.received_model ?? '?'}`));

    res = await post(
      '/v1/chat/completions',
      { model: 'hosted-gpt', messages: [{ role: 'user', content: 'Name three primary colours.' }] },
      { 'x-request-id': 'demo-7' },
    );
    j = (await res.json()) as typeof j;
    rows.push(rowFrom('hosted model', res, `provider got model=${j.kvfleet_sim?.received_model ?? '?'}, its key injected by Envoy`));

    res = await post(
      '/v1/chat/completions',
      { model: 'auto', messages: [{ role: 'user', content: 'Email jane.doe@example.com the report, or call +1 415 555 0134.' }] },
      { 'x-request-id': 'demo-8' },
    );
    await res.arrayBuffer();
    rows.push(rowFrom('PII prompt, auto', res, `never the hosted model: provider saw ${hosted.replicas[0]?.requests().length ?? '?'} request(s) in all`));

    res = await post(
      '/v1/chat/completions',
      { model: 'qwen', messages: [{ role: 'user', content: 'hi' }] },
      { authorization: 'Bearer demo-key-beta', 'x-request-id': 'demo-9' },
    );
    const denied = (await res.json()) as { error?: { code?: string; message?: string } };
    rows.push(rowFrom('tenant beta asks qwen', res, `error code=${denied.error?.code ?? '?'}`));

    printTable(rows);
    say(`\nPer-replica requests: ${[...sims, hosted].flatMap((s) => s.replicas.map((r) => `${r.port}=${r.stats().requests}`)).join(' ')}`);
    say(`Metrics: http://127.0.0.1:${kv.adminPort}/metrics (kvfleet), ${ENVOY_ADMIN}/clusters (Envoy) — shutting down.`);
    return rows.every((r) => r.status > 0) ? 0 : 1;
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  }
}
