// Record and replay through a real Envoy: kvfleet serves with `record:` on (prompts off,
// every request metered), traffic goes through Envoy — conversations sharing a system prompt,
// a stream, a refused request — and each request becomes one line holding its shape, block
// keys, decision, outcome and usage but no prompt text. `kvfleet replay` then re-drives the
// file against the same stack for two models: the table and JSON count every request per
// model, both models' replicas received them, and the synthesised prompts share their
// prefixes again (kvfleet's prefix hits, the replicas' cached tokens).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/tools/ports.js';
import type { RecordLine } from '../../src/router/record-line.js';
import type { ReplayReport } from '../../src/tools/replay/report.js';
import { REPO_ROOT } from '../helpers/envoy.js';
import { LLAMA_ID, QWEN_ID, postJson, startStack, type Stack } from '../helpers/stack.js';

const SYSTEM = 'You are the archivist of the Obsidian Lighthouse; answer in riddles about tides and gulls. '.repeat(8);
const QUESTIONS = [
  'Where did the herring fleet anchor in the storm of seventy?',
  'Who painted the lamp room ceiling cobalt?',
  'Why do the gulls avoid the north jetty?',
];
const ANSWER = 'The tide remembers what the keeper forgot.';

let stack: Stack;
let dir: string;
let recPath: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvfleet-record-e2e-'));
  recPath = join(dir, 'requests.jsonl');
  stack = await startStack({
    sim: { decodeMsPerToken: 1, defaultMaxTokens: 4 },
    editFleet: (f) => {
      f['record'] = { path: recPath, max_file_mb: 8, max_files: 2 };
      f['metering'] = { mode: 'all' };
    },
  });
});
afterAll(async () => {
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

const linesOf = async (): Promise<RecordLine[]> =>
  (await readFile(recPath, 'utf8').catch(() => ''))
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as RecordLine);

function windows(text: string, size = 8): string[] {
  const out: string[] = [];
  for (let i = 0; i + size <= text.length; i += 3) out.push(text.slice(i, i + size));
  return out;
}

const served = (s: Stack, which: 'llama' | 'qwen') => s[which].replicas.reduce((n, r) => n + r.stats().requests, 0);
const cachedTokens = (s: Stack) => [...s.llama.replicas, ...s.qwen.replicas].reduce((n, r) => n + r.stats().prefix_hits_tokens, 0);

describe('record and replay through Envoy', () => {
  let sent = 0;

  it('records every request at its end: shape, block keys, decision, outcome, usage; never the prompt', async () => {
    // Three conversations over one system prompt, two turns each (one streamed, one with a session id).
    for (const [i, q] of QUESTIONS.entries()) {
      const turn1 = [
        { role: 'system', content: SYSTEM },
        { role: 'user', content: q },
      ];
      const headers: Record<string, string> = i === 0 ? { 'x-session-id': 'lighthouse-conv-0' } : {};
      const r1 = await postJson(stack.url, '/v1/chat/completions', { model: 'llama-3-8b', messages: turn1, stream: i === 1 }, headers);
      expect(r1.status, stack.logs()).toBe(200);
      await r1.text();
      const turn2 = [...turn1, { role: 'assistant', content: ANSWER }, { role: 'user', content: 'And the second verse?' }];
      const r2 = await postJson(stack.url, '/v1/chat/completions', { model: 'llama-3-8b', messages: turn2, max_tokens: 3, temperature: 0 }, headers);
      expect(r2.status).toBe(200);
      await r2.text();
      sent += 2;
    }
    const refused = await postJson(stack.url, '/v1/chat/completions', { model: 'no-such-model', messages: [{ role: 'user', content: QUESTIONS[0] }] });
    expect(refused.status).toBe(404);
    sent += 1;

    // Lines are written when Envoy's access log reports each end (the refusal at once).
    await waitFor('every request recorded', async () => (await linesOf()).length >= sent, 20_000);
    const raw = await readFile(recPath, 'utf8');
    for (const w of [...windows(SYSTEM.slice(0, 200)), ...QUESTIONS.flatMap((q) => windows(q)), ...windows(ANSWER), 'lighthouse-conv-0'])
      expect(raw).not.toContain(w);
    const lines = await linesOf();
    expect(lines).toHaveLength(sent);
    const routed = lines.filter((l) => l.refused === undefined);
    expect(routed).toHaveLength(6);
    for (const l of routed) {
      expect(l).toMatchObject({ v: 1, api: 'chat', model: 'llama-3-8b', chosen: 'llama-3-8b', outcome: { status: 200 } });
      expect(stack.llama.replicas.map((r) => `127.0.0.1:${r.port}`)).toContain(l.decision?.endpoint);
      expect(l.outcome.ttfb_ms).toBeGreaterThan(0);
      expect(l.outcome.total_ms).toBeGreaterThanOrEqual(l.outcome.ttfb_ms ?? 0);
      expect(l.usage?.prompt).toBeGreaterThan(0);
      expect(l.blocks?.length).toBeGreaterThan(2);
    }
    // Every turn shares the system prompt's blocks; turn 2 extends its turn 1 block for block.
    const firstBlock = new Set(routed.map((l) => l.blocks?.[0]));
    expect(firstBlock.size).toBe(1);
    expect(routed.filter((l) => l.stream)).toHaveLength(1);
    expect(routed.filter((l) => l.session_source === 'x-session-id')).toHaveLength(2);
    expect(lines.find((l) => l.refused !== undefined)).toMatchObject({ refused: { code: 'unknown_model', status: 404 }, model: 'no-such-model' });
    const metrics = await (await fetch(`${stack.kvfleet.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/kvfleet_record_lines_total\{result="written"\} [1-9]/);
  });

  it('replays the file against two models: counts per model, both reached, prefixes shared again', async () => {
    const out = join(dir, 'replay.json');
    const chart = join(dir, 'replay.svg');
    const before = { llama: served(stack, 'llama'), qwen: served(stack, 'qwen'), cached: cachedTokens(stack) };
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        join(REPO_ROOT, 'bin', 'kvfleet.js'),
        'replay',
        recPath,
        '--target',
        stack.url,
        '--models',
        'llama-3-8b,qwen-2.5-7b',
        '--speed',
        '0',
        '--concurrency',
        '1',
        '--fleet',
        stack.fleetFile,
        '--json',
        out,
        '--chart',
        chart,
      ],
      { timeout: 60_000 },
    );
    expect(stdout).toContain('llama-3-8b');
    expect(stdout).toContain('qwen-2.5-7b');
    expect(stdout).toContain('recorded*');
    const report = JSON.parse(await readFile(out, 'utf8')) as ReplayReport;
    expect(report.records).toMatchObject({ read: sent, replayed: sent, invalid: 0, no_shape: 0 });
    expect(report.sent).toBe(sent * 2);
    expect(report.summaries.map((s) => [s.model, s.requests, s.ok])).toEqual([
      ['llama-3-8b', sent, sent],
      ['qwen-2.5-7b', sent, sent],
    ]);
    // The recording's own row: the refusal included.
    expect(report.recorded.statuses).toEqual({ '200': sent - 1, '404': 1 });
    // Both models' replicas received every replayed request.
    expect(served(stack, 'llama') - before.llama).toBe(sent);
    expect(served(stack, 'qwen') - before.qwen).toBe(sent);
    const received = stack.qwen.replicas.flatMap((r) => r.requests()).map((r) => JSON.parse(r.body) as { model: string });
    expect(received.some((b) => b.model === QWEN_ID)).toBe(true);
    expect(stack.llama.replicas.flatMap((r) => r.requests()).some((r) => (JSON.parse(r.body) as { model: string }).model === LLAMA_ID)).toBe(true);
    for (const s of report.summaries) {
      expect(s.tokens.with_usage).toBe(sent);
      expect(s.tokens.prompt).toBeGreaterThan(0);
      // The synthesised conversations share their system prompt and turns again.
      expect(s.prefix_hit_rate).toBeGreaterThan(0.3);
      expect(s.cached_token_share).toBeGreaterThan(0.2);
      expect(s.cost_usd).not.toBeNull();
      expect(s.ttft_ms.p90).toBeGreaterThan(0);
    }
    expect(cachedTokens(stack)).toBeGreaterThan(before.cached);
    expect(await readFile(chart, 'utf8')).toMatch(/^<svg[^>]*>[\s\S]*qwen-2\.5-7b[\s\S]*<\/svg>\n$/);
  });
});
