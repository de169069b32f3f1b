import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const cli = (args: string[]) =>
  run(process.execPath, ['bin/kvfleet.js', ...args]).then(
    (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
  );

describe('kvfleet validate / init', () => {
  it('exits 1 and prints every problem with its path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kvfleet-validate-'));
    const file = join(dir, 'broken.yaml');
    await writeFile(
      file,
      `
models:
  - { name: a, cluster: c, model_id: a, endpoints: [10.0.0.1:8000] }
  - { name: b, cluster: c, model_id: b, engine: vllm, endpoints: [10.0.0.1:8000, gpu-1:8000] }
  - { name: c, cluster: c, model_id: c, engine: llamacpp }
`,
    );
    const r = await cli(['validate', file]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('models[1].endpoints[1]');
    expect(r.err).toContain('models[2].engine');
    expect(r.err).toContain('2 problem(s)');
  });

  it('exits 1 on a file that is not YAML or does not exist', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kvfleet-validate-'));
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'models: [ {name: a');
    expect((await cli(['validate', file])).code).toBe(1);
    const missing = await cli(['validate', join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('cannot read file');
  });

  it('init writes an example that validates', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kvfleet-init-'));
    const file = join(dir, 'fleet.yaml');
    expect((await cli(['init', '-o', file])).code).toBe(0);
    const v = await cli(['validate', file]);
    expect(v.code).toBe(0);
    expect(v.out).toContain('ok (3 models, 4 endpoints, 1 hosted, 3 tenants)');
    expect((await cli(['init', '-o', file])).code).toBe(1);
  });

  it('serve refuses an invalid file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kvfleet-serve-'));
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'models: []');
    const r = await cli(['serve', '-c', file, '--grpc-port', '0', '--admin-port', '0']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('models: at least one model is required');
  });
});

describe('tenant keys: kvfleet keys hash, identity.keys_file', () => {
  it('keys hash prints the sha256 form, from the argument or stdin; validate reads the keys file and names its problems', async () => {
    const fromArg = await cli(['keys', 'hash', 'demo-key-acme']);
    expect(fromArg.out.trim()).toBe('sha256:8649cdebee753898fd50e01408a9e438aa5090249bc3e51b65f33dce973b0873');
    const dir = await mkdtemp(join(tmpdir(), 'kvfleet-keys-'));
    const fleet = join(dir, 'fleet.yaml');
    await writeFile(
      fleet,
      `
models: [{ name: m, cluster: c, model_id: m, endpoints: [10.0.0.1:8000] }]
identity: { sources: [api_key], keys_file: keys.yaml }
tenants: { acme: {}, beta: {} }
`,
    );
    await writeFile(join(dir, 'keys.yaml'), `acme: [${fromArg.out.trim()}]\n`);
    const ok = await cli(['validate', fleet]);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toContain('2 tenants');
    await writeFile(join(dir, 'keys.yaml'), 'acme: [not-a-hash]\nnobody: []\n');
    const bad = await cli(['validate', fleet]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('keys.yaml: 2 problem(s)');
    expect(bad.err).toContain('acme[0]: must be sha256:<64 lowercase hex digits>');
  });
});
