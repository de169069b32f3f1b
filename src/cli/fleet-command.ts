// `kvfleet fleet [--admin URL] [--watch [seconds]] [--window s] [--json]`: the status of a
// running kvfleet from its admin port, once, or redrawn in place every few seconds until
// Ctrl-C. Once: an unreachable kvfleet is a failed command (exit 1). Watching: it is shown in
// place of the table and tried again at the next tick.
import { InvalidArgumentError, type Command } from 'commander';
import { adminBase, DEFAULT_ADMIN_URL, readFleetStatus } from './admin-client.js';
import { renderFleetStatus } from './fleet-table.js';

interface FleetOptions {
  admin: string;
  watch?: number | true;
  window: number;
  json?: boolean;
}

const DEFAULT_WATCH_S = 2;

/** $KVFLEET_ADMIN when set and not empty, else the example fleet's admin port. */
function adminFromEnv(): string {
  const env = process.env['KVFLEET_ADMIN'];
  return env !== undefined && env.trim() !== '' ? env.trim() : DEFAULT_ADMIN_URL;
}

function seconds(min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`expected seconds from ${min} to ${max}`);
    return n;
  };
}

// Redraw from the top-left and clear what the last frame left below (no flicker, no scrollback).
const HOME_AND_CLEAR = '\x1b[H\x1b[J';
const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';

async function frame(base: string, o: FleetOptions): Promise<string> {
  const s = await readFleetStatus(base, o.window);
  return o.json === true ? `${JSON.stringify({ fleet: s.fleet, models: s.models ?? null }, null, 2)}\n` : renderFleetStatus(s, base);
}

async function watch(base: string, o: FleetOptions, everyS: number): Promise<void> {
  const tty = process.stdout.isTTY;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  const stop = () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
    wake?.();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  if (tty) process.stdout.write(HIDE_CURSOR);
  try {
    while (!stopped) {
      let text: string;
      try {
        text = await frame(base, o);
      } catch (e) {
        if (!(e instanceof Error)) throw e;
        text = `kvfleet: ${e.message}\n(trying again every ${everyS} s)\n`;
      }
      if (stopped) break;
      process.stdout.write(tty ? `${HOME_AND_CLEAR}${text}\n(every ${everyS} s; Ctrl-C to stop)\n` : `${text}\n`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, everyS * 1000);
      });
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    if (tty) process.stdout.write(SHOW_CURSOR);
  }
}

export function registerFleetCommand(program: Command): void {
  program
    .command('fleet')
    .description('status of a running kvfleet from its admin port: endpoints (health, load, KV usage, staleness, cooldown) and models (traffic, state)')
    .option('--admin <url>', `its admin port ($KVFLEET_ADMIN, else ${DEFAULT_ADMIN_URL})`, adminFromEnv())
    .option('-w, --watch [seconds]', `redraw in place every N seconds (default ${DEFAULT_WATCH_S}) until Ctrl-C`, seconds(0.2, 3600))
    .option('--window <seconds>', 'window of the traffic stats per model', seconds(1, 86400), 60)
    .option('--json', 'print the admin JSON (/fleet and /models/stats) instead of the table')
    .action(async (o: FleetOptions) => {
      const base = adminBase(o.admin);
      if (o.watch === undefined) {
        process.stdout.write(await frame(base, o));
        return;
      }
      await watch(base, o, o.watch === true ? DEFAULT_WATCH_S : o.watch);
    });
}
