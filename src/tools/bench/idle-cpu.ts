// What kvfleet costs with no traffic at all: the CPU of a kvfleet process idling behind its
// Envoy (4 simulated vLLM replicas), with engine scraping on (the defaults: every replica every
// 250 ms) and off, beside the floor processor (kvfleet's gRPC stack answering with constants).
// Everything a router does between requests shows here: timers, scrapes, the metrics sampler.
// In the overhead benchmark this cost is spread over the requests of a phase (at 200 req/s,
// 10 ms of CPU a second is 0.05 ms per request).
// With --root ROOT both kvfleets run from another checkout's build (before/after).
//   node dist/tools/bench/idle-cpu.js [--seconds S per window] [--windows N] [--warm S] [--root ROOT]
import { parseArgs } from 'node:util';
import { startLocalStack } from './local-stack.js';
import { pidTicks, TICKS_PER_SECOND } from './proc-cpu.js';

const { values: a } = parseArgs({
  options: {
    seconds: { type: 'string', default: '15' },
    windows: { type: 'string', default: '3' },
    warm: { type: 'string', default: '5' },
    root: { type: 'string' },
  },
});
const seconds = Number(a.seconds);
const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

const stack = await startLocalStack({ replicas: 4, prefillUsPerToken: 0, decodeMsPerToken: 0, defaultMaxTokens: 1 });
try {
  const root = a.root !== undefined ? { root: a.root } : {};
  const scraping = await stack.startRouted('hybrid_score', 1, 'full-duplex', root);
  const quiet = await stack.startRouted('hybrid_score', 1, 'full-duplex', {
    ...root,
    editFleet: (f) => {
      f['scrape'] = { enabled: false };
    },
  });
  const floor = await stack.startFloor({ mode: 'full-duplex' });
  const procs = [
    { name: 'kvfleet (scraping 4 replicas every 250 ms)', pid: scraping.kvfleet.pid },
    { name: 'kvfleet (scraping off)', pid: quiet.kvfleet.pid },
    { name: 'floor processor', pid: floor.pid },
  ];
  const ticks = () => Promise.all(procs.map(async (p) => (p.pid === undefined ? undefined : (await pidTicks(p.pid))?.own)));
  await sleep(Number(a.warm));
  const rows = procs.map(() => [] as number[]);
  for (let w = 0; w < Number(a.windows); w++) {
    const t0 = await ticks();
    await sleep(seconds);
    const t1 = await ticks();
    procs.forEach((_, i) => {
      const [x, y] = [t0[i], t1[i]];
      if (x !== undefined && y !== undefined) (rows[i] as number[]).push(((y - x) / TICKS_PER_SECOND / seconds) * 1000);
    });
  }
  process.stdout.write(`idle CPU, ms per second (${a.windows} windows of ${seconds} s after ${a.warm} s; /proc, 10 ms ticks)\n`);
  procs.forEach((p, i) => {
    const r = rows[i] as number[];
    process.stdout.write(`  ${p.name.padEnd(44)} ${r.length > 0 ? r.map((v) => v.toFixed(1)).join(' / ') : '– (no /proc)'}\n`);
  });
} finally {
  await stack.close();
}
