// Starts a real Envoy on a bootstrap file and waits until its admin says LIVE.
import { spawn, type ChildProcess } from 'node:child_process';

export interface EnvoyProcess {
  readonly child: ChildProcess;
  stop(): Promise<void>;
  output(): string;
}

export async function startEnvoyProcess(binary: string, configPath: string, adminUrl: string, timeoutMs = 20_000): Promise<EnvoyProcess> {
  const child = spawn(binary, ['-c', configPath, '--use-dynamic-base-id', '-l', 'warn', '--concurrency', '1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (b: Buffer) => {
    out = (out + b.toString('utf8')).slice(-64 * 1024);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`envoy exited with code ${child.exitCode}:\n${out}`);
    const live = await fetch(`${adminUrl}/ready`).then((r) => r.ok, () => false);
    if (live) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`envoy did not become ready within ${timeoutMs} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}
