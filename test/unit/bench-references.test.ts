// The virtual run's references (infinite-cache ceiling, pooled cache) computed in a child
// process while the policies run (issue 14 item 6: the 10^6-request run uses both cores) are
// the same figures as in-process: the child regenerates the same seeded stream.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { computeReferences, referencesInChild } from '../../src/tools/bench/references.js';
import { scenario } from '../../src/tools/bench/scenarios.js';

// The compiled child (npm test builds dist first).
const CHILD = resolve('dist/tools/bench/reference-child.js');

describe('virtual references in a child process', () => {
  it('give the in-process ceiling and pooled-cache figures, with the child’s own CPU time', async () => {
    for (const name of ['adversarial', 'multi-turn'] as const) {
      const s = scenario(name, { replicas: 4, requests: 400, seed: 3 });
      const here = computeReferences(s);
      const there = await referencesInChild(s, CHILD);
      expect(there.ceiling).toBe(here.ceiling);
      expect(there.ceiling).toBeGreaterThan(0);
      expect({ ...there.pooled, wallMs: 0, cpuMs: 0 }).toEqual({ ...here.pooled, wallMs: 0, cpuMs: 0 });
      expect(there.pooled.completed).toBe(400);
      expect(there.cpuMs).toBeGreaterThan(0);
    }
  });

  it('a child that cannot start is an error, not a hang', async () => {
    await expect(referencesInChild(scenario('adversarial', { replicas: 2, requests: 10 }), resolve('dist/tools/bench/no-such-child.js'))).rejects.toThrow(
      /exited/,
    );
  });
});

describe('kvfleet bench virtual (compiled CLI)', () => {
  it('runs the references in a child beside the policies and reports the in-process figures', async () => {
    const r = await promisify(execFile)(process.execPath, [
      'bin/kvfleet.js',
      'bench',
      'virtual',
      '--scenario',
      'adversarial',
      '--replicas',
      '4',
      '--requests',
      '300',
      '--seed',
      '5',
      '--policies',
      'round_robin,kvfleet',
    ]);
    expect(r.stderr).toContain('ceiling and pooled cache in a child process, in parallel');
    const s = scenario('adversarial', { replicas: 4, requests: 300, seed: 5 });
    const here = computeReferences(s);
    const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
    expect(r.stdout).toContain(`ceiling ${pct(here.ceiling)}, pooled cache ${pct(here.pooled.hitRate)}`);
    expect(r.stdout).toMatch(/^round_robin\s/m);
    expect(r.stdout).toMatch(/^kvfleet\s/m);
  });
});
