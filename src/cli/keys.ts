// `kvfleet keys hash [KEY]`: the SHA-256 form of a tenant API key, as tenants.*.api_keys and
// identity.keys_file store it. The key comes from stdin when not given (so it stays out of the
// shell history); only the hash is printed. kvfleet never stores the key itself.
import type { Command } from 'commander';
import { hashApiKey } from '../request/identity.js';

async function stdinText(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function registerKeysCommand(program: Command): void {
  const keys = program.command('keys').description('tenant API keys');
  keys
    .command('hash')
    .description('print the sha256:<hex> hash of an API key for tenants.*.api_keys (the key from stdin when not given)')
    .argument('[key]', 'the API key (default: read from stdin)')
    .action(async (key: string | undefined) => {
      const k = (key ?? (await stdinText())).trim();
      if (k.length === 0) {
        process.stderr.write('kvfleet keys hash: no key given (argument or stdin)\n');
        process.exit(1);
      }
      process.stdout.write(`${hashApiKey(k)}\n`);
    });
}
