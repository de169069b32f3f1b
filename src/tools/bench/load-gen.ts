// Load generators of `kvfleet bench overhead`, each run as child processes the harness waits
// for, so their CPU shows up in the harness's reaped-children time (proc-cpu.ts):
//   h2load  nghttp2's h2load (Debian: nghttp2-client), HTTP/1.1 (--h1), the body from a file
//           (-d), per-request times from its --log-file.
//             serial  one h2load, 1 connection, -n requests back to back
//             open    ⌈rate / 20⌉ h2load processes of one connection each at rate / processes
//                     req/s (--rps), started 1 / rate s apart: their requests interleave
//                     instead of leaving together (one h2load with many clients at the same
//                     --rps fires them all on the same tick: bursts, not a rate). A process
//                     whose previous request is still running sends late (each has ≥ 50 ms
//                     per request), so the load is open except for answers slower than that
//   node    load-client.ts: node:http keep-alive, the same shapes, an exact open-loop schedule
// `auto` takes h2load when it is on PATH, else the Node client; the report names the one used.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';

export type LoadShape = { readonly kind: 'serial'; readonly requests: number } | { readonly kind: 'open'; readonly rate: number; readonly seconds: number };
export type ClientTool = 'h2load' | 'node';
export type ClientChoice = ClientTool | 'auto';

export interface LoadResult {
  /** End-to-end ms of the requests answered 200. */
  readonly latenciesMs: number[];
  readonly ok: number;
  /** Requests not answered 200 (including never answered). */
  readonly errors: number;
  readonly statuses: Record<string, number>;
}

export interface LoadGenerator {
  readonly tool: ClientTool;
  /** Path of the h2load binary, or the Node client's script. */
  readonly path: string;
  run(url: string, bodyFile: string, shape: LoadShape, scratch: string): Promise<LoadResult>;
}

/** How many requests a shape issues. */
export function shapeRequests(s: LoadShape): number {
  return s.kind === 'serial' ? s.requests : Math.round(s.rate * s.seconds);
}

/** Request rate of one open-loop h2load process (one connection), at most. */
export const H2LOAD_RPS_PER_PROCESS = 20;

/** One h2load process of a run: when to start it (ms after the first) and its arguments. */
export interface H2loadProcess {
  readonly delayMs: number;
  readonly args: string[];
  readonly logFile: string;
}

export function h2loadPlan(url: string, bodyFile: string, logBase: string, shape: LoadShape): H2loadProcess[] {
  const args = (logFile: string, rest: string[]) => ['--h1', '-d', bodyFile, '-H', 'content-type: application/json', '--log-file', logFile, ...rest, url];
  if (shape.kind === 'serial') return [{ delayMs: 0, logFile: `${logBase}-0.tsv`, args: args(`${logBase}-0.tsv`, ['-c', '1', '-n', String(shape.requests)]) }];
  const n = shapeRequests(shape);
  const procs = Math.max(1, Math.min(n, Math.ceil(shape.rate / H2LOAD_RPS_PER_PROCESS)));
  const out: H2loadProcess[] = [];
  for (let k = 0; k < procs; k++) {
    const requests = Math.floor(n / procs) + (k < n % procs ? 1 : 0);
    const logFile = `${logBase}-${k}.tsv`;
    out.push({ delayMs: (k * 1000) / shape.rate, logFile, args: args(logFile, ['-c', '1', '--rps', String(shape.rate / procs), '-n', String(requests)]) });
  }
  return out;
}

/** h2load's --log-file: start µs since epoch, status, µs to the end of the response (tab-separated). */
export function parseH2loadLog(text: string, issued: number): LoadResult {
  const statuses: Record<string, number> = {};
  const latenciesMs: number[] = [];
  let seen = 0;
  for (const line of text.split('\n')) {
    const f = line.split('\t');
    if (f.length < 3) continue;
    const status = Number(f[1]);
    const us = Number(f[2]);
    if (!Number.isFinite(status) || !Number.isFinite(us)) continue;
    seen++;
    statuses[String(status)] = (statuses[String(status)] ?? 0) + 1;
    if (status === 200) latenciesMs.push(us / 1000);
  }
  if (issued > seen) statuses['none'] = issued - seen;
  return { latenciesMs, ok: latenciesMs.length, errors: Math.max(issued, seen) - latenciesMs.length, statuses };
}

/** Node client output: records [status, ms]. */
export function resultOfRecords(records: ReadonlyArray<readonly [number, number]>): LoadResult {
  const statuses: Record<string, number> = {};
  const latenciesMs: number[] = [];
  for (const [status, ms] of records) {
    statuses[String(status)] = (statuses[String(status)] ?? 0) + 1;
    if (status === 200) latenciesMs.push(ms);
  }
  return { latenciesMs, ok: latenciesMs.length, errors: records.length - latenciesMs.length, statuses };
}

export function locateH2load(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '' || !isAbsolute(dir)) continue;
    const candidate = join(dir, 'h2load');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Runs a child to its end ('close': reaped and its output read); rejects on a non-zero exit. */
function runChild(cmd: string, args: readonly string[]): Promise<string> {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (err = (err + b.toString('utf8')).slice(-4096)));
    child.once('error', fail);
    child.once('close', (code) => (code === 0 ? ok(out) : fail(new Error(`${cmd} exited with ${code}: ${err || out.slice(-2000)}`))));
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

function h2load(bin: string): LoadGenerator {
  let runs = 0;
  return {
    tool: 'h2load',
    path: bin,
    async run(url, bodyFile, shape, scratch) {
      const plan = h2loadPlan(`${url}/v1/chat/completions`, bodyFile, join(scratch, `h2load-${process.pid}-${runs++}`), shape);
      try {
        const t0 = performance.now();
        // Settled as they start: a process failing while later ones wait to start is no unhandled rejection.
        const done: Array<Promise<Error | undefined>> = [];
        for (const p of plan) {
          await sleep(t0 + p.delayMs - performance.now());
          done.push(
            runChild(bin, p.args).then(
              () => undefined,
              (e: Error) => e,
            ),
          );
        }
        const failed = (await Promise.all(done)).find((e) => e !== undefined);
        if (failed !== undefined) throw failed;
        const logs = await Promise.all(plan.map((p) => readFile(p.logFile, 'utf8')));
        return parseH2loadLog(logs.join('\n'), shapeRequests(shape));
      } finally {
        await Promise.all(plan.map((p) => rm(p.logFile, { force: true })));
      }
    },
  };
}

function nodeClient(script: string): LoadGenerator {
  return {
    tool: 'node',
    path: script,
    async run(url, bodyFile, shape) {
      const spec = JSON.stringify({ url: `${url}/v1/chat/completions`, bodyFile, shape, timeoutMs: 10_000 });
      const out = await runChild(process.execPath, [script, spec]);
      const parsed = JSON.parse(out) as { records: Array<[number, number]> };
      return resultOfRecords(parsed.records);
    },
  };
}

/** The generator asked for; `auto` = h2load when on PATH, else the Node client (needs dist/). */
export function loadGenerator(choice: ClientChoice, distDir: string): LoadGenerator {
  const bin = choice === 'node' ? undefined : locateH2load();
  if (bin !== undefined) return h2load(bin);
  if (choice === 'h2load') throw new Error('h2load is not on PATH (Debian: apt-get install nghttp2-client); use --client node');
  return nodeClient(join(distDir, 'tools', 'bench', 'load-client.js'));
}
