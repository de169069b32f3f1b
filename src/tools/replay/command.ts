// `kvfleet replay FILE… --target URL [--models a,b] [--speed x] [--concurrency n] [--limit n]
// [--max-gap-ms n] [--timeout-ms n] [--header 'name: value'] [--fleet FILE] [--json out.json]
// [--chart out.svg]`: re-drive recorded traffic (fleet key `record:`) and compare models.
// Progress on stderr, the table on stdout. A target that is down: one line, exit 4.
import { randomInt } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { loadFleetFile } from '../../config/load.js';
import { summarize, summarizeGroup } from './compare.js';
import { loadRecords } from './records.js';
import { replayJson, replaySvg, replayText, type ReplayReport } from './report.js';
import { checkTarget, recordedResults, runReplay } from './run.js';

const say = (s: string) => process.stderr.write(`${s}\n`);

function num(min: number, max: number, integer = false) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n)))
      throw new InvalidArgumentError(`expected ${integer ? 'an integer' : 'a number'} in [${min}, ${max}]`);
    return n;
  };
}

const list = (v: string): string[] => {
  const xs = v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (xs.length === 0) throw new InvalidArgumentError('expected a comma list of model names');
  return xs;
};

function header(v: string, prev: Record<string, string> = {}): Record<string, string> {
  const i = v.indexOf(':');
  const name = i > 0 ? v.slice(0, i).trim().toLowerCase() : '';
  if (!/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) throw new InvalidArgumentError("expected 'name: value'");
  return { ...prev, [name]: v.slice(i + 1).trim() };
}

interface ReplayCliOptions {
  target: string;
  models?: string[];
  speed: number;
  concurrency: number;
  limit?: number;
  maxGapMs?: number;
  timeoutMs: number;
  header?: Record<string, string>;
  seed?: number;
  fleet?: string;
  json?: string;
  chart?: string;
}

export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description('re-drive recorded traffic (fleet key record:) against an OpenAI-compatible URL and compare models')
    .argument('<files...>', 'record files (JSON Lines), e.g. requests.jsonl.1 requests.jsonl')
    .requiredOption('--target <url>', 'base URL of Envoy in front of kvfleet, e.g. http://127.0.0.1:10000')
    .option('--models <list>', 'send every request once per model (the body model replaced) and compare them', list)
    .option('--speed <x>', 'recorded timing ÷ x; 0 = as fast as --concurrency allows', num(0, 1e6), 1)
    .option('--concurrency <n>', 'requests in flight at once, per model', num(1, 10_000, true), 32)
    .option('--limit <n>', 'replay only the first n recorded requests', num(1, 1e9, true))
    .option('--max-gap-ms <ms>', 'cut recorded idle gaps longer than this', num(0, 1e10))
    .option('--timeout-ms <ms>', 'give up on a request after this long', num(1, 3_600_000), 120_000)
    .option('--header <header>', "add a header to every request ('authorization: Bearer …'); repeatable", header)
    .option('--seed <n>', 'salt of the synthesised text (default: a new one per run, so a replay starts on cold caches; 0: none)', num(0, 2 ** 31, true))
    .option('--fleet <file>', 'fleet file whose models[].priors price the tokens (cost column)')
    .option('--json <file>', 'write the result as JSON')
    .option('--chart <file>', 'write an SVG chart of TTFT and latency per model')
    .action(async (files: string[], o: ReplayCliOptions) => {
      const fleet = o.fleet !== undefined ? await loadFleetFile(o.fleet) : undefined;
      const loaded = await loadRecords(files, { limit: o.limit, maxGapMs: o.maxGapMs });
      if (loaded.records.length === 0) {
        throw new Error(
          `no replayable request in ${files.join(', ')} (${loaded.read} line(s): ${loaded.invalid} not a record, ${loaded.noShape} refused before their shape was known)`,
        );
      }
      const target = o.target.replace(/\/+$/, '');
      const seed = o.seed ?? randomInt(1, 2 ** 31);
      await checkTarget(target);
      say(
        `replaying ${loaded.records.length} request(s)${o.models !== undefined ? ` × ${o.models.length} models` : ''} against ${target} (speed ${o.speed}, concurrency ${o.concurrency})`,
      );
      const run = await runReplay({
        target,
        records: loaded.records,
        models: o.models,
        speed: o.speed,
        concurrency: o.concurrency,
        timeoutMs: o.timeoutMs,
        headers: o.header,
        seed,
        progress: say,
      });
      const priceOf = (m: string) => fleet?.byName.get(m);
      const report: ReplayReport = {
        files,
        target,
        models: o.models ?? null,
        speed: o.speed,
        concurrency: o.concurrency,
        seed,
        records: { read: loaded.read, replayed: loaded.records.length, invalid: loaded.invalid, no_shape: loaded.noShape },
        sent: run.results.length,
        wall_ms: run.wallMs,
        scheduled_ms: run.scheduledMs,
        recorded: summarizeGroup('recorded', recordedResults(loaded.records)),
        summaries: summarize(run.results, o.models ?? [], priceOf),
      };
      process.stdout.write(replayText(report));
      if (o.json !== undefined) {
        await writeFile(o.json, replayJson(report));
        say(`wrote ${o.json}`);
      }
      if (o.chart !== undefined) {
        await writeFile(o.chart, replaySvg(report));
        say(`wrote ${o.chart}`);
      }
    });
}
