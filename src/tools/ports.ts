// Loopback helpers shared by the benchmarks, the demo-style stacks and the tests.
import { createServer } from 'node:net';

/** A TCP port on 127.0.0.1 that was free a moment ago (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('freePort: no port assigned'));
        return;
      }
      srv.close(() => resolvePort(addr.port));
    });
  });
}

/** Poll `probe` every 50 ms until it says true (a throw counts as false), or fail after `timeoutMs`. */
export async function waitFor(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (
      await Promise.resolve()
        .then(probe)
        .catch(() => false)
    )
      return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Those of `ports` on 127.0.0.1 that something already listens on (a listen attempt fails). */
export async function busyPorts(ports: readonly number[]): Promise<number[]> {
  const busy = await Promise.all(
    ports.map(
      (port) =>
        new Promise<boolean>((resolveBusy) => {
          const srv = createServer();
          srv.unref();
          srv.once('error', () => resolveBusy(true));
          srv.listen(port, '127.0.0.1', () => srv.close(() => resolveBusy(false)));
        }),
    ),
  );
  return ports.filter((_, i) => busy[i] === true);
}
