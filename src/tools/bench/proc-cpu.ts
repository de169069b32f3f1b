// CPU accounting for the overhead benchmark, from Linux /proc (elsewhere every reading is
// undefined and the reports print '–'):
//   machine     /proc/stat, all CPUs: busy (user, nice, system, irq, softirq, steal) and
//               total ticks
//   ours        utime + stime of each process of the benchmark (Envoys, kvfleet, the floor:
//               /proc/<pid>/stat), of this process (the simulated replicas, the harness) and of
//               its reaped children (cutime + cstime: the load generator, which exits inside
//               the window it is measured in)
//   background  machine busy − ours: what the rest of the machine (other sessions, daemons)
//               took while a phase ran, as a share of the whole machine
// All in clock ticks (USER_HZ, 100/s on Linux); shares cancel the unit.
import { readdir, readFile } from 'node:fs/promises';

export const TICKS_PER_SECOND = 100;

export interface MachineTicks {
  readonly busy: number;
  readonly total: number;
}

/** The aggregate `cpu` line of /proc/stat text. */
export function parseProcStat(text: string): MachineTicks | undefined {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (line === undefined) return undefined;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const at = (i: number) => (Number.isFinite(f[i]) ? (f[i] as number) : 0);
  // user nice system idle iowait irq softirq steal (guest time is already inside user)
  const busy = at(0) + at(1) + at(2) + at(5) + at(6) + at(7);
  return { busy, total: busy + at(3) + at(4) };
}

/** utime + stime and cutime + cstime of /proc/<pid>/stat text (the command may hold spaces and parentheses). */
export function parsePidStat(text: string): { own: number; children: number } | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const f = text.slice(close + 2).split(' ');
  // fields after the command, 0-based from `state`: utime 11, stime 12, cutime 13, cstime 14
  const n = (i: number) => Number(f[i]);
  const own = n(11) + n(12);
  const children = n(13) + n(14);
  return Number.isFinite(own) && Number.isFinite(children) ? { own, children } : undefined;
}

export async function machineTicks(): Promise<MachineTicks | undefined> {
  try {
    return parseProcStat(await readFile('/proc/stat', 'utf8'));
  } catch {
    return undefined;
  }
}

export async function pidTicks(pid: number | 'self'): Promise<{ own: number; children: number } | undefined> {
  try {
    return parsePidStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The pid of the running process whose command line contains `needle` (undefined when none or no /proc). */
export async function pidByCommandLine(needle: string): Promise<number | undefined> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return undefined;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = (await readFile(`/proc/${e}/cmdline`, 'utf8')).replaceAll('\0', ' ');
      if (cmd.includes(needle)) return Number(e);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** One snapshot: the machine, each watched pid, this process and its reaped children. */
export interface CpuSnapshot {
  readonly at: number;
  readonly machine: MachineTicks | undefined;
  readonly pids: ReadonlyMap<number, number>;
  readonly self: number | undefined;
  readonly children: number | undefined;
}

export async function snapshot(pids: readonly number[]): Promise<CpuSnapshot> {
  const [machine, self, ...each] = await Promise.all([machineTicks(), pidTicks('self'), ...pids.map((p) => pidTicks(p))]);
  const byPid = new Map<number, number>();
  pids.forEach((p, i) => {
    const t = each[i];
    if (t !== undefined) byPid.set(p, t.own);
  });
  return { at: performance.now(), machine, pids: byPid, self: self?.own, children: self?.children };
}

/** CPU over a window between two snapshots; seconds are CPU seconds, shares are of the whole machine. */
export interface CpuWindow {
  readonly wallSeconds: number;
  /** Busy share of the whole machine, 0–1 (undefined without /proc). */
  readonly busyShare: number | undefined;
  /** Our processes' share of the whole machine, 0–1. */
  readonly oursShare: number | undefined;
  /** Everything else: busy − ours, 0–1. */
  readonly backgroundShare: number | undefined;
  /** CPU seconds per watched pid (pids missing at either end are left out). */
  readonly pidSeconds: ReadonlyMap<number, number>;
  /** This process (replicas, harness), CPU seconds. */
  readonly selfSeconds: number | undefined;
  /** Children reaped during the window (the load generator), CPU seconds. */
  readonly childrenSeconds: number | undefined;
}

export function cpuWindow(a: CpuSnapshot, b: CpuSnapshot): CpuWindow {
  const pidSeconds = new Map<number, number>();
  let oursTicks = 0;
  for (const [pid, t1] of b.pids) {
    const t0 = a.pids.get(pid);
    if (t0 === undefined) continue;
    pidSeconds.set(pid, (t1 - t0) / TICKS_PER_SECOND);
    oursTicks += t1 - t0;
  }
  const selfTicks = a.self !== undefined && b.self !== undefined ? b.self - a.self : undefined;
  const childTicks = a.children !== undefined && b.children !== undefined ? b.children - a.children : undefined;
  oursTicks += (selfTicks ?? 0) + (childTicks ?? 0);
  let busyShare: number | undefined;
  let oursShare: number | undefined;
  let backgroundShare: number | undefined;
  if (a.machine !== undefined && b.machine !== undefined && b.machine.total > a.machine.total) {
    const total = b.machine.total - a.machine.total;
    const busy = b.machine.busy - a.machine.busy;
    busyShare = busy / total;
    oursShare = oursTicks / total;
    // Tick sampling differs between /proc/stat and per-process counters: never below zero.
    backgroundShare = Math.max(0, busy - oursTicks) / total;
  }
  return {
    wallSeconds: (b.at - a.at) / 1000,
    busyShare,
    oursShare,
    backgroundShare,
    pidSeconds,
    selfSeconds: selfTicks !== undefined ? selfTicks / TICKS_PER_SECOND : undefined,
    childrenSeconds: childTicks !== undefined ? childTicks / TICKS_PER_SECOND : undefined,
  };
}
