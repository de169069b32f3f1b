// The end-to-end stack: simulated replicas (in-process), kvfleet (the built CLI as
// a child process, so it can be stopped and restarted) and a real Envoy running
// the repo's envoy/envoy.yaml, all on free loopback ports.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { startSim, type SimHandle, type SimOptions } from '../../src/tools/sim/index.js';
import { REPO_ROOT, startEnvoy, type EnvoyHandle } from './envoy.js';
import type { ExtProcMode } from '../../src/tools/envoy/processing-mode.js';
import { freePort, waitFor } from '../../src/tools/ports.js';

export const LLAMA_ID = 'meta-llama/Meta-Llama-3-8B-Instruct';
export const QWEN_ID = 'Qwen/Qwen2.5-7B-Instruct';
export const HOSTED_ID = 'gpt-4o-mini';
/** The provider key Envoy injects on pool-hosted-demo (envoy/demo/hosted-provider-key.yaml). */
export const HOSTED_KEY = 'sk-demo-provider-key-not-a-real-secret';
/** Replica ports of examples/fleet.yaml and envoy/envoy.yaml. */
const LLAMA_PORTS = [18001, 18002];
const QWEN_PORTS = [18011, 18012];
const HOSTED_PORT = 18443;

/** The hosted provider's stand-in: the simulator behind TLS (demo CA), under /provider, refusing requests without the injected key. */
export function hostedStandIn(): Promise<SimHandle> {
  return startSim({
    replicas: 1,
    basePort: 0,
    model: HOSTED_ID,
    tlsCert: join(REPO_ROOT, 'envoy', 'demo', 'hosted-server.pem'),
    tlsKey: join(REPO_ROOT, 'envoy', 'demo', 'hosted-server-key.pem'),
    requireKey: HOSTED_KEY,
    pathPrefix: '/provider',
  });
}

const CLI = join(REPO_ROOT, 'bin', 'kvfleet.js');
const LOG_KEEP = 256 * 1024;

export interface KvfleetProcess {
  readonly grpcPort: number;
  readonly adminUrl: string;
  start(): Promise<void>;
  /** SIGTERM and wait for the exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL (a crash): no drain, nothing flushed. */
  kill(): void;
  /** Send a signal (SIGHUP: reload the fleet file). */
  signal(sig: NodeJS.Signals): void;
  logs(): string;
  /** Parsed pino lines emitted so far. */
  lines(): Array<Record<string, unknown>>;
}

export function kvfleetProcess(fleetPath: string, grpcPort: number, adminPort: number): KvfleetProcess {
  if (!existsSync(join(REPO_ROOT, 'dist', 'cli.js'))) {
    throw new Error('dist/ is missing: run `npm run build` (npm test does it) before the end-to-end tests');
  }
  let child: ChildProcess | undefined;
  let log = '';
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  return {
    grpcPort,
    adminUrl,
    async start() {
      const c = spawn(process.execPath, [CLI, 'serve', '-c', fleetPath, '--grpc-port', String(grpcPort), '--admin-port', String(adminPort)], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, KVFLEET_LOG_LEVEL: 'info' },
      });
      child = c;
      const keep = (b: Buffer) => {
        log += b.toString('utf8');
        if (log.length > LOG_KEEP) log = log.slice(-LOG_KEEP);
      };
      c.stdout?.on('data', keep);
      c.stderr?.on('data', keep);
      await waitFor('kvfleet /readyz', async () => {
        if (c.exitCode !== null) throw new Error(`kvfleet exited with ${c.exitCode}:\n${log}`);
        return (await fetch(`${adminUrl}/readyz`)).ok;
      });
    },
    async stop() {
      const c = child;
      if (c === undefined || c.exitCode !== null) return c?.exitCode ?? null;
      const exited = new Promise<number | null>((r) => c.once('exit', (code) => r(code)));
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    kill() {
      child?.kill('SIGKILL');
    },
    signal(sig) {
      child?.kill(sig);
    },
    logs: () => log,
    lines: () =>
      log.split('\n').flatMap((l) => {
        if (!l.startsWith('{')) return [];
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      }),
  };
}

/** Write `fleet` as `dir`/fleet.yaml, start kvfleet on it and register its stop in `started`. */
export async function startKvfleetWith(
  dir: string,
  fleet: Record<string, unknown>,
  ports: { grpc: number; admin: number },
  started: Array<() => Promise<unknown>>,
): Promise<{ kvfleet: KvfleetProcess; fleetFile: string }> {
  const fleetFile = join(dir, 'fleet.yaml');
  await writeFile(fleetFile, stringify(fleet));
  const kvfleet = kvfleetProcess(fleetFile, ports.grpc, ports.admin);
  await kvfleet.start();
  started.push(() => kvfleet.stop());
  return { kvfleet, fleetFile };
}

export interface Stack {
  /** Envoy's listener, the only address clients use. */
  readonly url: string;
  readonly envoy: EnvoyHandle;
  readonly llama: SimHandle;
  readonly qwen: SimHandle;
  /** The hosted provider's stand-in (cluster pool-hosted-demo). */
  readonly hosted: SimHandle;
  readonly kvfleet: KvfleetProcess;
  /** Replica handle by its address as the fleet file names it (`127.0.0.1:port`). */
  readonly fleetFile: string;
  stop(): Promise<void>;
  /** Everything the processes logged, for a failing test's message. */
  logs(): string;
}

export interface StackOptions {
  /** Options for every simulated replica (ports are chosen by the stack). */
  readonly sim?: Partial<SimOptions>;
  /** Edit the fleet file (parsed YAML) before kvfleet starts; the replicas are already up. */
  readonly editFleet?: (fleet: Record<string, unknown>, sims: { readonly llama: SimHandle; readonly qwen: SimHandle }) => void;
  /** ext_proc request-body mode of the Envoy bootstrap (default: envoy.yaml as shipped, full duplex). */
  readonly extProcMode?: ExtProcMode;
  /** Edit the parsed Envoy bootstrap (after extProcMode) before Envoy starts. */
  readonly editEnvoy?: (config: unknown) => void;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const dir = await mkdtemp(join(tmpdir(), 'kvfleet-e2e-'));
  const started: Array<() => Promise<unknown>> = [];
  try {
    const llama = await startSim({ ...opts.sim, replicas: 2, basePort: 0, model: LLAMA_ID });
    started.push(() => llama.close());
    const qwen = await startSim({ ...opts.sim, replicas: 2, basePort: 0, model: QWEN_ID });
    started.push(() => qwen.close());
    const hosted = await hostedStandIn();
    started.push(() => hosted.close());
    const [grpcPort, adminPort, listener, envoyAdmin] = [await freePort(), await freePort(), await freePort(), await freePort()];

    const endpoints: Record<string, number> = {};
    LLAMA_PORTS.forEach((p, i) => (endpoints[String(p)] = llama.replicas[i]?.port ?? 0));
    QWEN_PORTS.forEach((p, i) => (endpoints[String(p)] = qwen.replicas[i]?.port ?? 0));
    endpoints[String(HOSTED_PORT)] = hosted.replicas[0]?.port ?? 0;

    const fleet = parse(await readFile(join(REPO_ROOT, 'examples', 'fleet.yaml'), 'utf8')) as Record<string, unknown>;
    const models = fleet['models'] as Array<{ endpoints?: string[] }>;
    for (const m of models) if (m.endpoints !== undefined) m.endpoints = m.endpoints.map((e) => `127.0.0.1:${endpoints[e.split(':')[1] ?? ''] ?? 0}`);
    opts.editFleet?.(fleet, { llama, qwen });
    const { kvfleet, fleetFile } = await startKvfleetWith(dir, fleet, { grpc: grpcPort, admin: adminPort }, started);
    const envoy = await startEnvoy({
      ports: { listener, admin: envoyAdmin, kvfleet: grpcPort, endpoints },
      extProcMode: opts.extProcMode,
      edit: opts.editEnvoy,
    });
    started.push(() => envoy.stop());

    return {
      url: envoy.url,
      envoy,
      llama,
      qwen,
      hosted,
      kvfleet,
      fleetFile,
      logs: () => `--- kvfleet ---\n${kvfleet.logs().slice(-8000)}\n--- envoy ---\n${envoy.logs().slice(-8000)}`,
      stop: async () => {
        for (const s of started.reverse()) await s().catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    for (const s of started.reverse()) await s().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

/** POST JSON through Envoy. */
export async function postJson(url: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}
