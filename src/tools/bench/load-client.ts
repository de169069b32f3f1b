// The Node load generator of `kvfleet bench overhead`, as a child process so its CPU is its
// own (the harness reads it from its reaped children) and it shares no event loop with the
// simulated replicas. POSTs one body over node:http keep-alive (live-request.ts):
//   serial  one request at a time, `requests` of them (closed loop)
//   open    request i at i / rate seconds from the start whatever is still in flight (open
//           loop), for `seconds`
// Prints one JSON line: {"records": [[status, ms], …]} (status 0 = network error or timeout).
//   node dist/tools/bench/load-client.js '<LoadClientSpec as JSON>'
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { postStreaming } from './live-request.js';
import type { LoadShape } from './load-gen.js';

export interface LoadClientSpec {
  readonly url: string;
  readonly bodyFile: string;
  readonly shape: LoadShape;
  readonly timeoutMs: number;
}

const HEADERS = { 'content-type': 'application/json' };
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

async function one(spec: LoadClientSpec, body: string): Promise<[number, number]> {
  const t0 = performance.now();
  try {
    const a = await postStreaming(spec.url, HEADERS, body, spec.timeoutMs);
    return [a.status, a.endMs];
  } catch {
    return [0, performance.now() - t0];
  }
}

export async function runLoadClient(spec: LoadClientSpec): Promise<Array<[number, number]>> {
  const body = await readFile(spec.bodyFile, 'utf8');
  const records: Array<[number, number]> = [];
  const shape = spec.shape;
  if (shape.kind === 'serial') {
    for (let i = 0; i < shape.requests; i++) records.push(await one(spec, body));
    return records;
  }
  const n = Math.round(shape.rate * shape.seconds);
  const start = performance.now();
  const pending: Array<Promise<void>> = [];
  for (let i = 0; i < n; i++) {
    const wait = start + (i * 1000) / shape.rate - performance.now();
    if (wait > 1) await sleep(wait);
    pending.push(one(spec, body).then((r) => void records.push(r)));
  }
  await Promise.all(pending);
  return records;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const spec = JSON.parse(process.argv[2] ?? '{}') as LoadClientSpec;
  const records = await runLoadClient(spec);
  process.stdout.write(`${JSON.stringify({ records })}\n`);
  // keep-alive sockets would hold the process open
  process.exit(0);
}
