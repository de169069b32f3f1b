// `kvfleet explain FILE --prompt … [--model …] [--json]`: decide offline for one
// request against a fleet file (idle replicas, empty learned state) and show why.
// Uses the same explainRequest → decide() path as POST /v1/route/explain.
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { InvalidArgumentError, type Command } from 'commander';
import { explainRequest } from '../admin/decision-routes.js';
import { parseFleet } from '../config/load.js';
import { createLearnedState } from '../core/learned/learned-state.js';
import { seededRng } from '../core/rng.js';
import type { LiveView } from '../core/types.js';
import { isKvError } from '../errors.js';
import { Router } from '../router/router.js';

interface ExplainOptions {
  prompt: string;
  system?: string;
  model: string;
  api: string;
  strategy?: string;
  models?: string;
  priority?: string;
  session?: string;
  tenant?: string;
  dataClass?: string;
  maxTokens?: number;
  json?: boolean;
}

function apiArg(v: string): string {
  if (v === 'chat' || v === 'completion' || v === 'embedding') return v;
  throw new InvalidArgumentError('expected chat, completion or embedding');
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function render(x: Record<string, unknown>): string {
  const lines: string[] = [];
  const c = (x['candidates'] as Array<Record<string, unknown>>) ?? [];
  lines.push(`model:     ${String(x['model'])}  (cluster ${String(x['cluster'])}, strategy ${String(x['strategy'])}, score ${String(x['score'])})`);
  lines.push(`endpoints: ${(x['endpoints'] as string[]).join(', ')}`);
  const a = x['affinity'] as { kind: string; score: number };
  lines.push(`affinity:  ${a.kind}${a.kind === 'prefix' ? `:${a.score.toFixed(2)}` : ''}`);
  lines.push(`reasons:   ${(x['reasons'] as string[]).join(', ')}`);
  const p = x['policy'] as { tenant: string | null; data_class: string; pii: string[]; actions: string[]; rules: string[] };
  const pii = p.pii.length > 0 ? `, pii ${p.pii.join(',')} → ${p.actions.join(',')}` : '';
  lines.push(
    `policy:    class ${p.data_class}${p.tenant !== null ? `, tenant ${p.tenant}` : ''}${pii}${p.rules.length > 0 ? `, rules ${p.rules.join(',')}` : ''}`,
  );
  if (typeof x['domain'] === 'string') lines.push(`domain:    ${x['domain']}`);
  lines.push('candidates:');
  for (const k of c) {
    const s = k['scores'] as Record<string, number>;
    const dims = Object.entries(s)
      .map(([d, v]) => `${d}=${v.toFixed(2)}`)
      .join(' ');
    lines.push(`  ${String(k['model']).padEnd(24)} strategy=${Number(k['strategy_score']).toFixed(3)} total=${Number(k['total']).toFixed(3)}  ${dims}`);
  }
  for (const r of (x['rejected'] as Array<{ model: string; reason: string }>) ?? []) lines.push(`  ✗ ${r.model.padEnd(22)} ${r.reason}`);
  return `${lines.join('\n')}\n`;
}

export function registerExplainCommand(program: Command): void {
  const cmd: Command = program
    .command('explain')
    .description('show which model and endpoints a request would get, and why (idle fleet, nothing sent)')
    .argument('<file>', 'fleet file (YAML)')
    .requiredOption('-p, --prompt <text>', 'the user message (or completion prompt / embedding input)')
    .option('--system <text>', 'a system message before the prompt (chat)')
    .option('-m, --model <name>', 'model as a client would name it', 'auto')
    .option('--api <kind>', 'chat | completion | embedding', apiArg, 'chat')
    .option('-s, --strategy <name>', 'as x-kvfleet-strategy')
    .option('--models <list>', 'allow-list, as x-kvfleet-models')
    .option('--priority <p>', 'high | normal | low, as x-kvfleet-priority')
    .option('--session <id>', 'as x-session-id')
    .option('--tenant <id>', 'explain as this tenant of the fleet file')
    .option('--data-class <class>', 'as x-kvfleet-data-class')
    .option('--max-tokens <n>', 'max output tokens', positiveInt)
    .option('--json', 'print the full explanation as JSON');
  cmd.action(async (file: string) => {
    const o = cmd.opts<ExplainOptions>();
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      cmd.error(`${file}: cannot read file: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { exitCode: 1 });
    }
    const res = parseFleet(text);
    if (!res.ok) {
      cmd.error(`${file}: ${res.problems.length} problem(s)\n  ${res.problems.join('\n  ')}`, { exitCode: 1 });
    }
    const body: Record<string, unknown> = { model: o.model };
    if (o.api === 'chat') {
      body['messages'] = [...(o.system !== undefined ? [{ role: 'system', content: o.system }] : []), { role: 'user', content: o.prompt }];
    } else if (o.api === 'completion') body['prompt'] = o.prompt;
    else body['input'] = o.prompt;
    if (o.maxTokens !== undefined) body['max_tokens'] = o.maxTokens;
    const headers = new Map<string, string>([
      [':method', 'POST'],
      [':path', '/v1/route/explain'],
    ]);
    if (o.strategy !== undefined) headers.set('x-kvfleet-strategy', o.strategy);
    if (o.models !== undefined) headers.set('x-kvfleet-models', o.models);
    if (o.priority !== undefined) headers.set('x-kvfleet-priority', o.priority);
    if (o.session !== undefined) headers.set('x-session-id', o.session);
    if (o.dataClass !== undefined) headers.set('x-kvfleet-data-class', o.dataClass);
    const idle: LiveView = { endpoint: () => undefined };
    try {
      const fleet = res.fleet;
      const router = new Router({
        fleet: () => fleet,
        live: idle,
        state: createLearnedState(fleet, seededRng(fleet.routing.seed ?? 1)),
        now: () => performance.now(),
      });
      const x = explainRequest(router, Buffer.from(JSON.stringify(body)), headers, o.api, o.tenant ?? null);
      process.stdout.write(o.json === true ? `${JSON.stringify(x, null, 2)}\n` : render(x));
    } catch (e) {
      if (!isKvError(e)) throw e;
      process.stderr.write(`kvfleet explain: ${e.status} ${e.code}${e.param !== null ? ` (${e.param})` : ''}: ${e.message}\n`);
      process.exit(1);
    }
  });
}
