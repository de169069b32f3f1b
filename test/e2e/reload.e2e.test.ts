// SIGHUP reload under load through a real Envoy (issue 15): while four clients keep sending
// (plain and streamed) requests, the fleet file gains a model, changes two (an endpoint leaves,
// an alias comes) and loses the one it gained, each applied with SIGHUP. No request of the load may fail, the
// changes must take effect, and what kvfleet learned about endpoints that stayed (the prefix a
// replica holds) must survive every reload.
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { readFile } from 'node:fs/promises';
import { postJson, startStack, type Stack } from '../helpers/stack.js';
import { until } from '../helpers/fleet-state-stack.js';

interface FleetJson {
  models: Array<{ name: string; endpoints: string[] }>;
}
type ModelFile = { name: string; aliases?: string[]; endpoints?: string[]; cluster?: string; model_id?: string };

let s: Stack;
beforeAll(async () => {
  s = await startStack({
    sim: { decodeMsPerToken: 2, defaultMaxTokens: 4 },
    // SIGHUP only: the file watcher must not be the one that applies the edits.
    editFleet: (f) => ((f['server'] as Record<string, unknown>)['watch_seconds'] = 0),
  });
});
afterAll(async () => s?.stop());

const PREFIX = 'You are the support assistant of a hardware shop. '.repeat(60);

async function editFleet(edit: (models: ModelFile[]) => ModelFile[]): Promise<void> {
  const f = parse(await readFile(s.fleetFile, 'utf8')) as Record<string, unknown>;
  f['models'] = edit(f['models'] as ModelFile[]);
  await writeFile(s.fleetFile, stringify(f));
  s.kvfleet.signal('SIGHUP');
}

const fleetView = async (): Promise<FleetJson> => (await fetch(`${s.kvfleet.adminUrl}/fleet`)).json() as Promise<FleetJson>;

describe('SIGHUP reload under load', () => {
  it('adds, changes and removes models with no failed request and keeps learned state', async () => {
    // What kvfleet learns before any reload: a long prefix, now held by one llama replica.
    const primed = await postJson(s.url, '/v1/chat/completions', { model: 'llama-3-8b', messages: [{ role: 'user', content: `${PREFIX} first` }] });
    expect(primed.status).toBe(200);
    await primed.arrayBuffer();
    const holder = primed.headers.get('x-kvfleet-endpoint') ?? '';
    expect(holder).toMatch(/^127\.0\.0\.1:\d+$/);

    // The load: four clients, each request to one of `targets` (which grows as models come).
    const targets = ['llama-3-8b', 'qwen-2.5-7b'];
    const statuses = new Map<string, number[]>();
    let running = true;
    let k = 0;
    const worker = async (w: number) => {
      while (running) {
        const model = targets[k++ % targets.length] as string;
        const stream = k % 4 === 0;
        let status = 599;
        try {
          const res = await postJson(s.url, '/v1/chat/completions', { model, stream, messages: [{ role: 'user', content: `client ${w} request ${k}` }] });
          const text = await res.text();
          status = res.status === 200 && stream && !text.includes('[DONE]') ? 598 : res.status;
        } catch {
          // 599: the connection failed
        }
        const list = statuses.get(model) ?? [];
        list.push(status);
        statuses.set(model, list);
      }
    };
    const load = Promise.all([0, 1, 2, 3].map(worker));
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    await pause(700);

    // 1. A model is added.
    await editFleet((models) => [
      ...models,
      { name: 'llama-mini', cluster: 'pool-llama-3-8b', model_id: 'meta-llama/Meta-Llama-3-8B-Instruct', endpoints: models[0]?.endpoints ?? [] },
    ]);
    await until('llama-mini in the fleet', async () => (await fleetView()).models.some((m) => m.name === 'llama-mini'));
    targets.push('llama-mini');
    await pause(700);

    // 2. A model changes: one llama endpoint leaves (the one that does not hold the prefix), qwen gets an alias.
    await editFleet((models) =>
      models.map((m) =>
        m.name === 'llama-3-8b' ? { ...m, endpoints: [holder] } : m.name === 'qwen-2.5-7b' ? { ...m, aliases: [...(m.aliases ?? []), 'qwen-latest'] } : m,
      ),
    );
    await until('llama down to one endpoint', async () => (await fleetView()).models.find((m) => m.name === 'llama-3-8b')?.endpoints.length === 1);
    targets.push('qwen-latest');
    await pause(700);

    // 3. A model is removed: clients stop asking for it, and the reload comes at once (requests
    // to it still in flight finish on the decision they had).
    targets.splice(targets.indexOf('llama-mini'), 1);
    await editFleet((models) => models.filter((m) => m.name !== 'llama-mini'));
    await until('llama-mini gone', async () => !(await fleetView()).models.some((m) => m.name === 'llama-mini'));
    await pause(700);
    running = false;
    await load;

    const all = [...statuses.values()].flat();
    expect(all.length).toBeGreaterThan(40);
    expect(all.filter((c) => c !== 200)).toEqual([]);
    for (const m of ['llama-3-8b', 'qwen-2.5-7b', 'llama-mini', 'qwen-latest']) expect(statuses.get(m)?.length ?? 0).toBeGreaterThan(0);

    // The changes took: the removed model is unknown, the leaving endpoint gets nothing more.
    const gone = await postJson(s.url, '/v1/chat/completions', { model: 'llama-mini', messages: [{ role: 'user', content: 'hi' }] });
    expect(gone.status).toBe(404);
    const models = (await (await fetch(`${s.url}/v1/models`)).json()) as { data: Array<{ id: string }> };
    expect(models.data.map((m) => m.id)).not.toContain('llama-mini');
    expect(models.data.map((m) => m.id)).toContain('qwen-2.5-7b');

    // Learned state survived three reloads: the prefix still leads to the replica that holds it.
    const again = await postJson(s.url, '/v1/chat/completions', { model: 'llama-3-8b', messages: [{ role: 'user', content: `${PREFIX} second` }] });
    expect(again.status).toBe(200);
    await again.arrayBuffer();
    expect(again.headers.get('x-kvfleet-endpoint')).toBe(holder);
    expect(again.headers.get('x-kvfleet-affinity')).toMatch(/^prefix:/);

    const metrics = await (await fetch(`${s.kvfleet.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/kvfleet_fleet_reloads_total\{result="ok"\} 3/);
  });
});
