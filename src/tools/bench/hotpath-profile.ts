// CPU of kvfleet's request hot path, for profiling and before/after comparisons (issue 12):
// the overhead benchmark's stack (4 sim replicas answering at once, kvfleet and the floor
// processor each behind an Envoy on the shipped config, one ext_proc mode) driven by h2load
// with one body, in rounds that alternate kvfleet and the floor. Prints each process's CPU
// per 1,000 requests answered 200 (/proc, utime + stime) and the machine's background CPU per
// phase. With --prof DIR kvfleet runs under `node --cpu-prof` (profile written at its exit)
// and the profile's self time is summarised by area (cpuprofile-summary.ts); profiling slows
// kvfleet, so compare CPU figures from runs without --prof. With --baseline ROOT a second
// kvfleet runs from another checkout's build (e.g. `git archive <commit>` + `npm run build`),
// behind its own Envoy, in the same rounds: before/after on the same machine at the same time.
//   node dist/tools/bench/hotpath-profile.js [--mode full-duplex|buffered] [--size KB]
//        [--requests N per round, serial] [--rate R --seconds S: open loop instead]
//        [--rounds N] [--no-floor] [--prof DIR] [--baseline ROOT]
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ExtProcMode } from '../envoy/processing-mode.js';
import { formatSummary, summariseProfile, type CpuProfile } from './cpuprofile-summary.js';
import { loadGenerator, type LoadShape } from './load-gen.js';
import { REPO_ROOT, startLocalStack, type StackPart } from './local-stack.js';
import { body } from './overhead.js';
import { cpuWindow, snapshot } from './proc-cpu.js';

const { values: a } = parseArgs({
  options: {
    mode: { type: 'string', default: 'full-duplex' },
    size: { type: 'string', default: '4' },
    requests: { type: 'string', default: '2000' },
    rate: { type: 'string' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    'no-floor': { type: 'boolean', default: false },
    prof: { type: 'string' },
    baseline: { type: 'string' },
  },
});

const mode = a.mode as ExtProcMode;
const shape: LoadShape =
  a.rate !== undefined ? { kind: 'open', rate: Number(a.rate), seconds: Number(a.seconds) } : { kind: 'serial', requests: Number(a.requests) };
const say = (l: string) => process.stderr.write(`${l}\n`);

interface Variant {
  readonly name: string;
  readonly part: StackPart;
  readonly pid: number | undefined;
  cpu: number;
  ok: number;
  errors: number;
  /** CPU s / 1000 requests of each round. */
  rounds: number[];
}

const stack = await startLocalStack({ replicas: 4, prefillUsPerToken: 0, decodeMsPerToken: 0, defaultMaxTokens: 1, maxConcurrency: 4096, maxWaiting: 100000 });
const scratch = await mkdtemp(join(tmpdir(), 'kvfleet-hotpath-'));
const gen = loadGenerator('auto', join(REPO_ROOT, 'dist'));
try {
  const bodyFile = join(scratch, 'body.json');
  await writeFile(bodyFile, body(Number(a.size), 1));
  const profArgs = (who: string) => (a.prof !== undefined ? ['--cpu-prof', '--cpu-prof-dir', join(a.prof, who)] : []);
  const kv = await stack.startRouted('hybrid_score', 1, mode, { nodeArgs: profArgs('kvfleet') });
  const variants: Variant[] = [{ name: 'kvfleet', part: kv, pid: kv.kvfleet.pid, cpu: 0, ok: 0, errors: 0, rounds: [] }];
  if (a.baseline !== undefined) {
    const b = await stack.startRouted('hybrid_score', 1, mode, { nodeArgs: profArgs('baseline'), root: a.baseline });
    variants.push({ name: 'baseline', part: b, pid: b.kvfleet.pid, cpu: 0, ok: 0, errors: 0, rounds: [] });
  }
  if (!a['no-floor']) {
    const f = await stack.startFloor({ mode }, profArgs('floor'));
    variants.push({ name: 'floor', part: f, pid: f.pid, cpu: 0, ok: 0, errors: 0, rounds: [] });
  }
  const warm: LoadShape = { kind: 'serial', requests: 200 };
  for (const v of variants) await gen.run(v.part.url, bodyFile, warm, scratch);
  let bgSum = 0;
  let bgMax = 0;
  let phases = 0;
  for (let round = 0; round < Number(a.rounds); round++) {
    // Rotate the order each round: no variant always runs right after another.
    for (const v of variants.map((_, i) => variants[(i + round) % variants.length] as Variant)) {
      const s0 = await snapshot(stack.pids());
      const r = await gen.run(v.part.url, bodyFile, shape, scratch);
      const w = cpuWindow(s0, await snapshot(stack.pids()));
      const cpu = v.pid !== undefined ? (w.pidSeconds.get(v.pid) ?? 0) : 0;
      v.cpu += cpu;
      v.rounds.push((cpu * 1000) / Math.max(1, r.ok));
      v.ok += r.ok;
      v.errors += r.errors;
      const bg = w.backgroundShare ?? 0;
      bgSum += bg;
      bgMax = Math.max(bgMax, bg);
      phases++;
      say(
        `round ${round + 1} ${v.name}: ${r.ok} ok ${r.errors} errors, CPU ${((cpu * 1000) / Math.max(1, r.ok)).toFixed(3)} s / 1000 req, background ${(bg * 100).toFixed(1)} %`,
      );
    }
  }
  const label = `${a.size} KB ${shape.kind === 'serial' ? 'serial' : `${shape.rate} req/s`} ${mode}`;
  const median = (xs: readonly number[]) => {
    const s = [...xs].sort((x, y) => x - y);
    const m = s.length >> 1;
    return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
  };
  const floor = variants.find((v) => v.name === 'floor');
  for (const v of variants) {
    // Per round against the floor of the same round: the machine's load moves both alike.
    const ratios = floor !== undefined && v !== floor ? v.rounds.map((x, i) => x / (floor.rounds[i] ?? Number.NaN)) : [];
    process.stdout.write(
      `${label} ${v.name}: ${((v.cpu * 1000) / Math.max(1, v.ok)).toFixed(3)} s CPU / 1000 req overall, median of rounds ${median(v.rounds).toFixed(3)}` +
        `${ratios.length > 0 ? `, median ratio to the floor ${median(ratios).toFixed(2)}×` : ''} (${v.ok} ok, ${v.errors} errors)\n`,
    );
  }
  process.stdout.write(`background CPU: mean ${((bgSum / Math.max(1, phases)) * 100).toFixed(1)} %, max ${(bgMax * 100).toFixed(1)} % of the machine\n`);
  const logs = kv.kvfleet.logs();
  if (logs !== '') say(`kvfleet wrote ${logs.length} bytes of log (last 64 KiB kept); the end:\n${logs.slice(-1500)}`);
  for (const v of variants) await v.part.stop();
  if (a.prof !== undefined) {
    for (const v of variants) {
      const dir = join(a.prof, v.name);
      const last = (await readdir(dir))
        .filter((f) => f.endsWith('.cpuprofile'))
        .sort()
        .at(-1);
      if (last === undefined) {
        say(`no .cpuprofile written for ${v.name}`);
        continue;
      }
      const profile = JSON.parse(await readFile(join(dir, last), 'utf8')) as CpuProfile;
      const s = summariseProfile(profile);
      process.stdout.write(
        `\n== ${v.name}: ${join(dir, last)} (${(s.busyMs / Math.max(1, v.ok + 200)).toFixed(3)} s sampled per 1000 req incl. warm-up)\n${formatSummary(s)}\n`,
      );
    }
  }
} finally {
  await stack.close();
  await rm(scratch, { recursive: true, force: true });
}
