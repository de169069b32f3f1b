// The kvfleet command line: serve, validate, init, explain, keys, fleet, health, sim, demo, bench.
import { access, copyFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { logVerbosity, setLogVerbosity } from '@grpc/grpc-js';
import { describeFailure } from './cli/failure.js';
import { FleetFileError, loadFleetFile } from './config/load.js';
import { serve } from './serve.js';
import { registerSimCommand } from './tools/sim/command.js';
import { registerExplainCommand } from './cli/explain.js';
import { registerKeysCommand } from './cli/keys.js';
import { registerFleetCommand } from './cli/fleet-command.js';
import { registerHealthCommand } from './cli/health-command.js';
import { registerDemoCommand } from './tools/demo/command.js';
import { registerBenchCommand } from './tools/bench/command.js';
import { registerReplayCommand } from './tools/replay/command.js';

const EXAMPLE_FLEET = fileURLToPath(new URL('../examples/fleet.yaml', import.meta.url));

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number 0..65535');
  return n;
}

const program = new Command();
program.name('kvfleet').description('KV-cache-aware router for LLM fleets, as an Envoy ext_proc service').version('0.1.0');

program
  .command('serve')
  .description('run the ext_proc gRPC service (and the admin HTTP port) for a fleet file')
  .requiredOption('-c, --config <file>', 'fleet file (YAML)')
  .option('--grpc-port <port>', 'override server.grpc.port', port)
  .option('--admin-port <port>', 'override server.admin.port', port)
  .action(async (o: { config: string; grpcPort?: number; adminPort?: number }) => {
    // An invalid fleet file or a busy port ends here with one clear message (cli/failure.ts).
    const r = await serve({ fleetPath: o.config, grpcPort: o.grpcPort, adminPort: o.adminPort });
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      void r.stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
      process.stderr.write(`kvfleet: ${signal}, draining\n`);
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => void r.reload());
  });

program
  .command('validate')
  .description('check a fleet file; print every problem with its path; exit 1 if any')
  .argument('<file>', 'fleet file (YAML)')
  .action(async (file: string) => {
    let fleet;
    try {
      fleet = await loadFleetFile(file);
    } catch (e) {
      if (!(e instanceof FleetFileError)) throw e;
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    }
    const eps = fleet.models.reduce((n, m) => n + (m.virtualEndpoint ? 0 : m.endpoints.length), 0);
    const hosted = fleet.models.filter((m) => m.hosted).length;
    const tenants = fleet.policy.tenants.size;
    process.stdout.write(
      `${file}: ok (${fleet.models.length} models, ${eps} endpoints${hosted > 0 ? `, ${hosted} hosted` : ''}${tenants > 0 ? `, ${tenants} tenants` : ''})\n`,
    );
  });

program
  .command('init')
  .description('write a commented example fleet file')
  .option('-o, --output <file>', 'where to write it', 'fleet.yaml')
  .option('-f, --force', 'overwrite an existing file')
  .action(async (o: { output: string; force?: boolean }) => {
    if (o.force !== true) {
      const exists = await access(o.output).then(
        () => true,
        () => false,
      );
      if (exists) {
        process.stderr.write(`${o.output} exists; use --force to overwrite\n`);
        process.exit(1);
      }
    }
    await copyFile(EXAMPLE_FLEET, o.output);
    process.stdout.write(`wrote ${o.output}; check it with: kvfleet validate ${o.output}\n`);
  });

registerSimCommand(program);
registerExplainCommand(program);
registerKeysCommand(program);
registerFleetCommand(program);
registerHealthCommand(program);
registerDemoCommand(program);
registerBenchCommand(program);
registerReplayCommand(program);

// grpc-js would also print its own copy of a bind failure; the one line below says it.
if (process.env['GRPC_VERBOSITY'] === undefined) setLogVerbosity(logVerbosity.NONE);
try {
  await program.parseAsync(process.argv);
} catch (e) {
  const f = describeFailure(e);
  process.stderr.write(`${f.message}\n`);
  if (process.env['KVFLEET_DEBUG'] === '1' && e instanceof Error) process.stderr.write(`${e.stack ?? ''}\n`);
  process.exit(f.exitCode);
}
