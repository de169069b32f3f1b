// The fleet file is reloaded when its content changes (server.watch_seconds), the way a
// Kubernetes ConfigMap volume changes it: a new directory, and the `..data` symlink swapped to
// it. An invalid version keeps the running fleet (and is reported once); the next valid one is
// picked up; the keys file is watched too; a touch without an edit reloads nothing.
import { mkdir, mkdtemp, rename, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/obs/logger.js';
import { hashApiKey } from '../../src/request/identity.js';
import { serve, type Running } from '../../src/serve.js';
import { waitFor } from '../../src/tools/ports.js';

let dir: string;
let running: Running;
let version = 0;

const fleetYaml = (models: string[]) => `
server: { grpc: { port: 0 }, admin: { port: 0 }, watch_seconds: 0.05 }
scrape: { enabled: false }
models:
${models.map((m, i) => `  - { name: ${m}, cluster: c${i}, model_id: ${m}, endpoints: [10.0.0.${i + 1}:8000] }`).join('\n')}
identity: { sources: [api_key], keys_file: keys.yaml }
tenants: { acme: {} }
`;

/** Publish a new version the way the kubelet does: write a new directory, swap `..data` to it. */
async function publish(files: Record<string, string>): Promise<void> {
  const v = join(dir, `..v${++version}`);
  await mkdir(v);
  for (const [name, text] of Object.entries(files)) await writeFile(join(v, name), text);
  await symlink(`..v${version}`, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
}

const keys = (k: string) => `acme: [${hashApiKey(k)}]\n`;
const reloads = async (result: string) =>
  Number((await running.metrics.registry.getSingleMetricAsString('kvfleet_fleet_reloads_total')).match(new RegExp(`result="${result}"} (\\d+)`))?.[1] ?? 0);
const models = () => running.fleet().models.map((m) => m.name);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvfleet-watch-'));
  await publish({ 'fleet.yaml': fleetYaml(['a']), 'keys.yaml': keys('k1') });
  // What the pod sees: fixed names that point through ..data.
  await symlink('..data/fleet.yaml', join(dir, 'fleet.yaml'));
  await symlink('..data/keys.yaml', join(dir, 'keys.yaml'));
  running = await serve({ fleetPath: join(dir, 'fleet.yaml'), logger: createLogger('silent') });
});
afterAll(() => running?.stop(0));

describe('fleet file watch (ConfigMap-style updates)', () => {
  it('reloads a changed fleet file, keeps the fleet on an invalid one, and picks up the next valid one', async () => {
    expect(models()).toEqual(['a']);
    await publish({ 'fleet.yaml': fleetYaml(['a', 'b']), 'keys.yaml': keys('k1') });
    await waitFor('the new model', () => models().includes('b'), 5000);

    await publish({ 'fleet.yaml': fleetYaml(['a', 'b']).replace('models:', 'modelz:'), 'keys.yaml': keys('k1') });
    await waitFor('the invalid version to be reported', async () => (await reloads('invalid')) === 1, 5000);
    await new Promise((r) => setTimeout(r, 300));
    expect(await reloads('invalid')).toBe(1); // reported once, not every poll
    expect(models()).toEqual(['a', 'b']);

    await publish({ 'fleet.yaml': fleetYaml(['c']), 'keys.yaml': keys('k1') });
    await waitFor('the next valid version', () => models().join() === 'c', 5000);
  });

  it('a change of the keys file alone reloads; the same content again reloads nothing', async () => {
    const ok = await reloads('ok');
    await publish({ 'fleet.yaml': fleetYaml(['c']), 'keys.yaml': keys('k2') });
    await waitFor('the keys reload', async () => (await reloads('ok')) === ok + 1, 5000);
    expect(running.fleet().policy.keys.has(hashApiKey('k2'))).toBe(true);
    expect(running.fleet().policy.keys.has(hashApiKey('k1'))).toBe(false);
    await publish({ 'fleet.yaml': fleetYaml(['c']), 'keys.yaml': keys('k2') });
    await new Promise((r) => setTimeout(r, 400));
    expect(await reloads('ok')).toBe(ok + 1);
  });
});
