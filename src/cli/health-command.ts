// `kvfleet health -c FLEET_FILE [--timeout ms] [--json]`: probe every endpoint of a fleet file
// with its engine's own health endpoint (cli/health-probe.ts), one line per endpoint. Exit 0
// when every probed endpoint is up, 1 when any is down (one line on stderr naming them), 2 for
// an invalid fleet file (cli/failure.ts). Skipped endpoints (hosted providers) do not fail it.
import { InvalidArgumentError, type Command } from 'commander';
import { FleetFileError, loadFleetFile } from '../config/load.js';
import { probeAll, probeTargets, HEALTH_PATHS, type ProbeResult } from './health-probe.js';
import { textTable } from './text-table.js';

interface HealthOptions {
  config: string;
  timeout: number;
  json?: boolean;
}

function ms(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 600_000) throw new InvalidArgumentError('expected milliseconds from 1 to 600000');
  return n;
}

export function renderHealth(results: readonly ProbeResult[]): string {
  const rows = results.map((r) => [r.state, r.model, r.address, r.engine, r.detail, r.ms !== undefined ? `${Math.round(r.ms)} ms` : '']);
  const count = (s: ProbeResult['state']) => results.filter((r) => r.state === s).length;
  const skipped = count('skipped');
  const summary = `${count('up')} up, ${count('down')} down${skipped > 0 ? `, ${skipped} skipped` : ''}`;
  return `${[...textTable(['STATE', 'MODEL', 'ENDPOINT', 'ENGINE', 'PROBE', 'TIME'], rows, ['left', 'left', 'left', 'left', 'left', 'right']), '', summary].join('\n')}\n`;
}

export function registerHealthCommand(program: Command): void {
  program
    .command('health')
    .description(
      `probe every endpoint of a fleet file with its engine's health endpoint (${Object.entries(HEALTH_PATHS)
        .map(([e, p]) => `${e} ${p}`)
        .join(', ')}); exit 1 if any is down`,
    )
    .requiredOption('-c, --config <file>', 'fleet file (YAML)')
    .option('--timeout <ms>', 'how long each probe may take', ms, 2000)
    .option('--json', 'print the results as JSON')
    .action(async (o: HealthOptions) => {
      let fleet;
      try {
        fleet = await loadFleetFile(o.config);
      } catch (e) {
        if (!(e instanceof FleetFileError)) throw e;
        process.stderr.write(`kvfleet: invalid fleet file, nothing probed\n${e.message}\n`);
        process.exit(2);
      }
      const results = await probeAll(probeTargets(fleet.models), o.timeout);
      if (o.json === true) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
      else process.stdout.write(renderHealth(results));
      const down = results.filter((r) => r.state === 'down');
      if (down.length > 0) {
        const probed = results.filter((r) => r.state !== 'skipped').length;
        const names = down.map((r) => `${r.address} (${r.model})`);
        throw new Error(`${down.length} of ${probed} endpoints down: ${names.slice(0, 8).join(', ')}${names.length > 8 ? `, … ${names.length - 8} more` : ''}`);
      }
    });
}
