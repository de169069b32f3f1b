// Find free loopback ports for in-process sims in tests: a base port P such that P … P+count−1
// can all be bound right now (checked by binding each, then releasing it). Racy by nature; callers
// retry on EADDRINUSE if they must.
import { createServer } from 'node:net';

function canBind(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** A base port with `count` consecutive free ports, picked at random in [20000, 60000). */
export async function findFreeBasePort(count = 1, host = '127.0.0.1', attempts = 50): Promise<number> {
  for (let a = 0; a < attempts; a++) {
    const base = 20000 + Math.floor(Math.random() * (40000 - count));
    let ok = true;
    for (let i = 0; i < count && ok; i++) ok = await canBind(base + i, host);
    if (ok) return base;
  }
  throw new Error(`no ${count} consecutive free ports found on ${host}`);
}
