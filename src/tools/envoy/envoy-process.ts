// Runs a real Envoy on a bootstrap file and waits until its admin /ready says LIVE.
// Used by `kvfleet demo`, the benchmarks and the end-to-end tests.
import { spawn } from 'node:child_process';

export interface EnvoyProcess {
  /** SIGTERM, then SIGKILL after the grace period. Safe to call twice. */
  stop(): Promise<void>;
  /** The last `keepBytes` of Envoy's stdout (access log) and stderr, interleaved. */
  logs(): string;
}

export interface EnvoyProcessOptions {
  readonly binary: string;
  readonly configFile: string;
  /** http://host:port of the bootstrap's admin listener. */
  readonly adminUrl: string;
  readonly logLevel?: string;
  readonly readyTimeoutMs?: number;
  readonly stopGraceMs?: number;
  readonly keepBytes?: number;
  /** Working directory: relative file paths in the bootstrap (envoy/demo/…) resolve against it. */
  readonly cwd?: string;
}

async function isLive(adminUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${adminUrl}/ready`, { signal: AbortSignal.timeout(1000) });
    return res.ok && (await res.text()).trim() === 'LIVE';
  } catch {
    return false;
  }
}

export async function startEnvoyProcess(o: EnvoyProcessOptions): Promise<EnvoyProcess> {
  const keep = o.keepBytes ?? 256 * 1024;
  const child = spawn(
    o.binary,
    [
      '-c',
      o.configFile,
      '-l',
      o.logLevel ?? 'warn',
      '--concurrency',
      '1',
      // No hot-restart shared memory or domain socket: several Envoys (tests, demo,
      // benchmarks) can run side by side without picking base ids.
      '--disable-hot-restart',
      '--drain-time-s',
      '0',
      // The stdout access log is flushed like a file (every 10 s by default).
      '--file-flush-interval-msec',
      '100',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], ...(o.cwd !== undefined ? { cwd: o.cwd } : {}) },
  );
  let buf = '';
  const append = (chunk: Buffer) => {
    buf += chunk.toString('utf8');
    if (buf.length > keep * 2) buf = buf.slice(-keep);
  };
  const logs = () => (buf.length > keep ? buf.slice(-keep) : buf);
  child.stdout.on('data', append);
  child.stderr.on('data', append);

  let exitInfo: string | undefined;
  const exited = new Promise<void>((r) => {
    child.once('exit', (code, signal) => {
      exitInfo = `code=${code} signal=${signal}`;
      r();
    });
    child.once('error', (err) => {
      exitInfo = `spawn error: ${err.message}`;
      r();
    });
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (exitInfo === undefined) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), o.stopGraceMs ?? 5000);
      await exited;
      clearTimeout(timer);
    }
  };

  const timeout = o.readyTimeoutMs ?? 20_000;
  const deadline = Date.now() + timeout;
  for (;;) {
    if (exitInfo !== undefined) {
      await stop();
      throw new Error(`Envoy (${o.binary}) exited before it was ready (${exitInfo}). Output:\n${logs()}`);
    }
    if (await isLive(o.adminUrl)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`Envoy (${o.binary}) not LIVE on ${o.adminUrl}/ready after ${timeout} ms. Output:\n${logs()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { stop, logs };
}
