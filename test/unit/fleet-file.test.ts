import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseFleet, formatPath } from '../../src/config/load.js';
import { fleetFrom } from '../helpers/fleet.js';

const problems = (yaml: string): string[] => {
  const r = parseFleet(yaml);
  if (r.ok) throw new Error('expected the file to be invalid');
  return r.problems;
};

describe('fleet file', () => {
  it('accepts the shipped example and freezes it', () => {
    const r = parseFleet(readFileSync('examples/fleet.yaml', 'utf8'));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.fleet.models.map((m) => m.name)).toEqual(['llama-3-8b', 'qwen-2.5-7b', 'hosted-gpt']);
    expect(r.fleet.defaultModel?.name).toBe('llama-3-8b');
    expect(Object.isFrozen(r.fleet.models[0])).toBe(true);
    expect(Object.isFrozen(r.fleet.models[0]?.endpoints)).toBe(true);
    expect(r.fleet.byName.get('qwen')?.model_id).toBe('Qwen/Qwen2.5-7B-Instruct');
  });

  it('names the path of a bad endpoint', () => {
    const p = problems(`
models:
  - { name: a, cluster: c, model_id: a, endpoints: [10.0.0.1:8000] }
  - { name: b, cluster: c, model_id: b, endpoints: [10.0.0.1:8000, "gpu-1:8000"] }
`);
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^models\[1\]\.endpoints\[1\]: must be ip:port/);
  });

  it('reports every problem, not just the first', () => {
    const p = problems(`
default_model: nope
models:
  - { name: a, cluster: "bad cluster", model_id: a, endpoints: [10.0.0.1:99999] }
  - { name: a, cluster: c, model_id: "", typo_key: 1 }
`);
    const joined = p.join('\n');
    expect(joined).toContain('models[0].cluster');
    expect(joined).toContain('models[0].endpoints[0]');
    expect(joined).toContain('models[1].model_id');
    expect(joined).toMatch(/models\[1\].*typo_key|typo_key/);
    expect(p.length).toBeGreaterThanOrEqual(4);
  });

  it('rejects duplicate names and aliases, the reserved alias auto, and an unknown default', () => {
    const p = problems(`
default_model: missing
models:
  - { name: a, aliases: [x, auto], cluster: c, model_id: a }
  - { name: b, aliases: [x], cluster: c, model_id: b }
  - { name: a, cluster: c, model_id: a2 }
`).join('\n');
    expect(p).toContain('models[0].aliases[1]: "auto" is reserved');
    expect(p).toContain('models[1].aliases[0]: "x" is already used by models[0]');
    expect(p).toContain('models[2].name: "a" is already used by models[0]');
    expect(p).toContain('default_model: "missing" is not the name');
  });

  it('reports YAML syntax errors and an empty file', () => {
    expect(problems('models: [ {name: a')[0]).toMatch(/^yaml: /);
    expect(problems('')[0]).toMatch(/^models: /);
  });

  it('accepts IPv6 endpoints in brackets only', () => {
    expect(fleetFrom(`models: [{ name: a, cluster: c, model_id: a, endpoints: ["[::1]:8000"] }]`).models[0]?.endpoints).toEqual(['[::1]:8000']);
    expect(problems(`models: [{ name: a, cluster: c, model_id: a, endpoints: ["::1:8000"] }]`)[0]).toContain('models[0].endpoints[0]');
  });

  it('formats paths', () => {
    expect(formatPath(['models', 2, 'endpoints', 0])).toBe('models[2].endpoints[0]');
    expect(formatPath([])).toBe('(root)');
  });
});
