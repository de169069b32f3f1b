import type { Command } from 'commander';
import { runDemo } from './run-demo.js';

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run simulated replicas + kvfleet + a real Envoy (envoy/envoy.yaml), send a few requests, print each decision')
    .action(async () => {
      process.exitCode = await runDemo();
    });
}
