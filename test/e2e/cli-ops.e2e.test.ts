// `kvfleet fleet` and `kvfleet health`, the built CLI run as a user runs it, against
// simulated replicas, stand-ins for engines the simulator does not imitate (Triton, Ollama)
// and a running kvfleet. What is checked: the table a person reads, --watch redrawing until
// Ctrl-C, and the exit codes a script acts on (a stopped or unhealthy replica makes `health`
// exit 1 with one line on stderr).
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSim, type SimHandle } from '../../src/tools/sim/index.js';
import { freePort, waitFor } from '../../src/tools/ports.js';
import { REPO_ROOT } from '../helpers/envoy.js';
import { startKvfleetWith, type KvfleetProcess } from '../helpers/stack.js';

const CLI = join(REPO_ROOT, 'bin', 'kvfleet.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], opts: { untilStdout?: (s: string) => boolean; signal?: NodeJS.Signals } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KVFLEET_ADMIN: '' } });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    c.stdout.on('data', (b: Buffer) => {
      stdout += b.toString('utf8');
      if (!signalled && opts.untilStdout?.(stdout) === true) {
        signalled = true;
        c.kill(opts.signal ?? 'SIGINT');
      }
    });
    c.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    const timer = setTimeout(() => c.kill('SIGKILL'), 25_000);
    c.on('error', reject);
    c.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A stand-in answering 200 on one health path and 404 elsewhere; the path `hang`: never answers at all. */
async function standIn(path: string): Promise<{ server: Server; address: string }> {
  const server = createServer((req, res) => {
    if (path === 'hang') return; // keeps the connection open, says nothing
    res.writeHead(req.url === path ? 200 : 404, { 'content-type': 'application/json' });
    res.end(req.url === path ? '{"version":"0.12.6"}' : '{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  const port = typeof a === 'object' && a !== null ? a.port : 0;
  return { server, address: `127.0.0.1:${port}` };
}

let dir: string;
let llama: SimHandle;
let tgi: SimHandle;
const servers: Server[] = [];
let triton: string;
let ollama: string;
let hang: string;
let kvfleet: KvfleetProcess;
let fleetFile: string;
const started: Array<() => Promise<unknown>> = [];
const addr = (s: SimHandle, i: number) => `127.0.0.1:${s.replicas[i]?.port}`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvfleet-cli-'));
  llama = await startSim({ replicas: 2, basePort: 0, model: 'meta-llama/Meta-Llama-3-8B-Instruct' });
  started.push(() => llama.close());
  tgi = await startSim({ replicas: 1, basePort: 0, model: 'tgi-model' });
  started.push(() => tgi.close());
  const t = await standIn('/v2/health/ready');
  const o = await standIn('/api/version');
  const h = await standIn('hang');
  for (const s of [t, o, h]) {
    servers.push(s.server);
    started.push(() => new Promise<void>((r) => (s.server.closeAllConnections(), s.server.close(() => r()))));
  }
  [triton, ollama, hang] = [t.address, o.address, h.address];
  const off = { enabled: false };
  const fleet = {
    version: 1,
    models: [
      {
        name: 'llama-3-8b',
        cluster: 'pool-llama',
        model_id: 'meta-llama/Meta-Llama-3-8B-Instruct',
        engine: 'vllm',
        endpoints: [addr(llama, 0), addr(llama, 1)],
      },
      { name: 'tgi-model', cluster: 'pool-tgi', model_id: 'tgi-model', engine: 'tgi', endpoints: [addr(tgi, 0)], scrape: off },
      { name: 'triton-model', cluster: 'pool-triton', model_id: 'ensemble', engine: 'triton', endpoints: [triton], scrape: off },
      { name: 'ollama-model', cluster: 'pool-ollama', model_id: 'llama3', engine: 'ollama', endpoints: [ollama], scrape: off },
      { name: 'hosted-gpt', cluster: 'pool-hosted', model_id: 'gpt-4o-mini', engine: 'openai', host: 'api.example.com' },
    ],
  };
  const r = await startKvfleetWith(dir, fleet, { grpc: await freePort(), admin: await freePort() }, started);
  kvfleet = r.kvfleet;
  fleetFile = r.fleetFile;
  // A second fleet file: one endpoint that accepts connections and never answers.
  await writeFile(
    join(dir, 'hang.yaml'),
    stringify({ version: 1, models: [{ name: 'slow', cluster: 'pool-slow', model_id: 'slow', engine: 'sglang', endpoints: [hang] }] }),
  );
  await waitFor('fresh engine metrics for the llama replicas', async () => {
    const f = (await (await fetch(`${kvfleet.adminUrl}/fleet`)).json()) as { endpoints: Array<{ address: string; stale?: boolean }> };
    return [addr(llama, 0), addr(llama, 1)].every((a) => f.endpoints.find((e) => e.address === a)?.stale === false);
  });
});

afterAll(async () => {
  for (const s of started.reverse()) await s().catch(() => undefined);
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** The row of a text table whose second column is `address`. */
const row = (out: string, address: string) => out.split('\n').find((l) => l.split(/\s+/)[1] === address || l.split(/\s+/)[2] === address);

describe('kvfleet fleet', () => {
  it('prints the status table of a running kvfleet: endpoints with model, health, load, KV usage, metrics age; models', async () => {
    const r = await run(['fleet', '--admin', kvfleet.adminUrl]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^kvfleet at ${kvfleet.adminUrl} · 5 models · \\d+ of \\d+ endpoints healthy`));
    expect(r.stdout).toMatch(/MODEL\s+ENDPOINT\s+HEALTH\s+IN-FLIGHT\s+RUNNING\s+WAITING\s+KV\s+METRICS\s+COOLDOWN\s+CIRCUIT/);
    for (const a of [addr(llama, 0), addr(llama, 1)]) {
      const l = row(r.stdout, a) ?? '';
      // Idle replicas; their metrics fresh (or, on a loaded machine, stale for a moment: values in brackets).
      expect(l).toMatch(
        new RegExp(
          `^llama-3-8b\\s+${a.replaceAll('.', '\\.')}\\s+healthy\\s+0\\s+\\(?0\\)?\\s+\\(?0\\)?\\s+\\(?0%\\)?\\s+(fresh|STALE) [\\d.]+m?s\\s+-\\s+closed$`,
        ),
      );
    }
    // Not scraped and nothing routed there yet: kvfleet has no state for it, and says so.
    expect(row(r.stdout, triton)).toMatch(/^triton-model\s+\S+\s+unknown(\s+-){7}$/);
    // The models table (GET /models/stats): every model of the fleet file with its state.
    expect(r.stdout).toMatch(/MODEL\s+STATE\s+REQ\/S/);
    for (const m of ['llama-3-8b', 'triton-model']) expect(r.stdout).toMatch(new RegExp(`^${m}\\s+(active|idle)\\s`, 'm'));
  });

  it('--json prints the admin JSON', async () => {
    const r = await run(['fleet', '--admin', kvfleet.adminUrl, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { fleet: { endpoints: Array<{ address: string }> }; models: unknown };
    expect(j.fleet.endpoints.map((e) => e.address)).toContain(addr(llama, 0));
  });

  it('--watch redraws until Ctrl-C (exit 0) and shows a replica going down without a restart', async () => {
    const victim = llama.replicas[1];
    if (victim === undefined) throw new Error('replica 1');
    const down = addr(llama, 1);
    let crashed = false;
    const r = await run(['fleet', '--admin', kvfleet.adminUrl, '--watch', '0.3'], {
      untilStdout: (out) => {
        const frames = out.split(/^kvfleet at /m).slice(1);
        if (!crashed && frames.length >= 2) {
          crashed = true;
          void victim.crash();
        }
        return crashed && /DOWN/.test(row(frames[frames.length - 1] ?? '', down) ?? '');
      },
    });
    await victim.setFaults({ refuse: false });
    expect(r.code, r.stderr).toBe(0);
    const frames = r.stdout.split(/^kvfleet at /m).slice(1);
    expect(frames.length).toBeGreaterThanOrEqual(3);
    expect(row(frames[0] ?? '', down)).toMatch(/healthy/);
    expect(row(frames.at(-1) ?? '', down)).toMatch(/DOWN \(scrape_failing\)/);
  });

  it('fails in one line (exit 1) when kvfleet cannot be reached', async () => {
    const port = await freePort();
    const r = await run(['fleet', '--admin', `http://127.0.0.1:${port}`]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([
      `kvfleet: cannot reach kvfleet's admin port at http://127.0.0.1:${port}/fleet (connection refused); is \`kvfleet serve\` running there? (--admin URL)`,
    ]);
    const notKvfleet = await run(['fleet', '--admin', `http://${addr(llama, 0)}`]);
    expect(notKvfleet.code).toBe(1);
    expect(notKvfleet.stderr).toMatch(/^kvfleet: .*\/fleet answered 404: is this kvfleet's admin port\?\n$/);
  });
});

describe('kvfleet health', () => {
  it("probes every endpoint with its engine's own health endpoint; all up: exit 0", async () => {
    const r = await run(['health', '-c', fleetFile]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(row(r.stdout, addr(llama, 0))).toMatch(/^up\s+llama-3-8b\s+\S+\s+vllm\s+GET \/health → 200\s+\d+ ms$/);
    expect(row(r.stdout, addr(llama, 1))).toMatch(/^up\s+llama-3-8b\s+\S+\s+vllm\s+GET \/health → 200/);
    expect(row(r.stdout, addr(tgi, 0))).toMatch(/^up\s+tgi-model\s+\S+\s+tgi\s+GET \/health → 200/);
    expect(row(r.stdout, triton)).toMatch(/^up\s+triton-model\s+\S+\s+triton\s+GET \/v2\/health\/ready → 200/);
    expect(row(r.stdout, ollama)).toMatch(/^up\s+ollama-model\s+\S+\s+ollama\s+GET \/api\/version → 200/);
    expect(row(r.stdout, 'api.example.com')).toMatch(/^skipped\s+hosted-gpt\s+api\.example\.com\s+openai\s+hosted provider/);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('5 up, 0 down, 1 skipped');
  });

  it('a stopped replica or one answering 503 makes it exit 1, with one line on stderr naming them', async () => {
    const stopped = llama.replicas[0];
    const sick = tgi.replicas[0];
    if (stopped === undefined || sick === undefined) throw new Error('replicas');
    await stopped.crash();
    await sick.setFaults({ unhealthy: true });
    try {
      const r = await run(['health', '-c', fleetFile]);
      expect(r.code).toBe(1);
      expect(row(r.stdout, addr(llama, 0))).toMatch(/^down\s+llama-3-8b\s+\S+\s+vllm\s+GET \/health: connection refused$/);
      expect(row(r.stdout, addr(tgi, 0))).toMatch(/^down\s+tgi-model\s+\S+\s+tgi\s+GET \/health → 503/);
      expect(row(r.stdout, addr(llama, 1))).toMatch(/^up /);
      expect(r.stdout.trim().split('\n').at(-1)).toBe('3 up, 2 down, 1 skipped');
      expect(r.stderr.trim().split('\n')).toEqual([`kvfleet: 2 of 5 endpoints down: ${addr(llama, 0)} (llama-3-8b), ${addr(tgi, 0)} (tgi-model)`]);
    } finally {
      await stopped.setFaults({ refuse: false });
      await sick.setFaults({ unhealthy: false });
    }
    expect((await run(['health', '-c', fleetFile])).code).toBe(0);
  });

  it('gives up on an endpoint that does not answer within --timeout', async () => {
    const r = await run(['health', '-c', join(dir, 'hang.yaml'), '--timeout', '300']);
    expect(r.code).toBe(1);
    expect(row(r.stdout, hang)).toMatch(/^down\s+slow\s+\S+\s+sglang\s+GET \/health: no answer within 300 ms$/);
  });

  it('an invalid fleet file: exit 2, every problem listed, nothing probed', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, stringify({ version: 1, models: [{ name: 'x', cluster: 'c', model_id: 'x', endpoints: ['not-an-address'] }] }));
    const r = await run(['health', '-c', bad]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('models[0].endpoints[0]');
  });
});
