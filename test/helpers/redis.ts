// A real redis-server for the tests, on a loopback port of its own: no persistence, no
// config file, stopped by the test. .ci/run installs Debian's redis-server; a missing
// binary FAILS the test that needs it (never a skip).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { freePort, waitFor } from '../../src/tools/ports.js';

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** Stop it (SIGKILL: a crash) and resolve when the process is gone. */
  kill(): Promise<void>;
  /** Start again on the same port (an empty dataset). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function binary(): string {
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const bin = which.stdout.trim();
  if (which.status !== 0 || bin === '') throw new Error('redis-server not found: `apt-get install -y redis-server` (.ci/run does it)');
  return bin;
}

export async function startRedis(): Promise<RedisServer> {
  const bin = binary();
  const port = await freePort();
  let child: ChildProcess | undefined;
  let log = '';
  const start = async () => {
    const c = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = c;
    c.stdout?.on('data', (b: Buffer) => (log = (log + b.toString()).slice(-8000)));
    c.stderr?.on('data', (b: Buffer) => (log = (log + b.toString()).slice(-8000)));
    await waitFor(`redis-server on ${port}`, () => {
      if (c.exitCode !== null) throw new Error(`redis-server exited: ${log}`);
      return log.includes('Ready to accept connections');
    });
  };
  const kill = async () => {
    const c = child;
    if (c === undefined || c.exitCode !== null) return;
    const gone = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGKILL');
    await gone;
  };
  await start();
  return { url: `redis://127.0.0.1:${port}/0`, port, kill, restart: start, stop: kill };
}
