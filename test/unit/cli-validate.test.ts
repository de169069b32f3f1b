import { execFile } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
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

/** One line on stderr, no stack frames. */
const oneLine = (err: string) => {
  expect(err.trim().split('\n')).toHaveLength(1);
  expect(err).not.toMatch(/\n\s+at /);
};

describe('clear failures: one line, an exit code', () => {
  it('validate reports every problem at once: cross-checks run beside schema errors, and a negative weight is one problem', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kvfleet-validate-'));
    const file = join(dir, 'many.yaml');
    await writeFile(
      file,
      `
routing:
  strategy: bogus
  weights: { quality: -1, cost: 0, latency: 0, cache: 0, load: 0 }
models:
  - { name: a, cluster: c, endpoints: [10.0.0.1:8000] }
  - { name: a, cluster: c, model_id: a, endpoints: [10.0.0.2:8000, 10.0.0.2:8000] }
`,
    );
    const r = await cli(['validate', file]);
    expect(r.code).toBe(1);
    for (const p of [
      'routing.strategy',
      'routing.weights.quality',
      'models[0].model_id',
      'models[1].name: "a" is already used by models[0]',
      'models[1].endpoints[1]: duplicate endpoint',
    ]) {
      expect(r.err).toContain(p);
    }
    expect(r.err).not.toContain('at least one weight must be positive');
    expect(r.err).toContain('5 problem(s)');
  });

  it('serve on a port in use: exit 3 and one line naming the address', async () => {
    const blocker = createServer();
    await new Promise<void>((res) => blocker.listen(0, '127.0.0.1', () => res()));
    const port = (blocker.address() as AddressInfo).port;
    try {
      for (const flags of [
        ['--grpc-port', String(port), '--admin-port', '0'],
        ['--grpc-port', '0', '--admin-port', String(port)],
      ]) {
        const r = await cli(['serve', '-c', 'examples/fleet.yaml', ...flags]);
        expect(r.code).toBe(3);
        oneLine(r.err);
        expect(r.err).toContain(`127.0.0.1:${port} is already in use`);
      }
    } finally {
      blocker.close();
    }
  });

  it('demo with one of its fixed ports taken: exit 3 and one line, before starting anything', async () => {
    const blocker = createServer();
    await new Promise<void>((res) => blocker.listen(18443, '127.0.0.1', () => res()));
    try {
      const r = await cli(['demo']);
      expect(r.code).toBe(3);
      oneLine(r.err);
      expect(r.err).toMatch(/kvfleet demo: ports? .*18443.* already in use/);
      expect(r.out).toBe('');
    } finally {
      blocker.close();
    }
  });

  it('init into a directory that does not exist: exit 1 and one line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kvfleet-init-'));
    const r = await cli(['init', '-o', join(dir, 'missing', 'dir', 'fleet.yaml')]);
    expect(r.code).toBe(1);
    oneLine(r.err);
    expect(r.err).toContain('no such file or directory (does its directory exist?)');
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
