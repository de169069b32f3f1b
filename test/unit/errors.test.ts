// The error contract enforces itself: the catalogue (src/errors.ts), the README's error
// table and the codes src/ actually raises must agree, and every message is built by the
// catalogue (no hand-written error bodies elsewhere).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERRORS, kvError, type ErrorCode } from '../../src/errors.js';
import { REPO_ROOT } from '../helpers/envoy.js';

function sources(dir: string, out: string[] = []): string[] {
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** status → codes, from the README table under "Errors are OpenAI-shaped". */
function readmeTable(): Map<string, number> {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf('| status | codes |');
  expect(at, 'README has the error table').toBeGreaterThan(0);
  const out = new Map<string, number>();
  for (const line of readme.slice(at).split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    const [, status, codes] = line.split('|');
    // A code opens the cell or follows ", " / "; " (backticked words inside the notes are not codes).
    for (const m of (codes ?? '').trim().matchAll(/(?:^|[;,]\s*)`([a-z_]+)`/g)) out.set(m[1] as string, Number(status?.trim()));
  }
  return out;
}

describe('error catalogue', () => {
  const catalogue = Object.keys(ERRORS).sort();

  it('the README table lists exactly the catalogue, each code under its status', () => {
    const table = readmeTable();
    expect([...table.keys()].sort()).toEqual(catalogue);
    for (const [code, status] of table) expect({ code, status }).toEqual({ code, status: ERRORS[code as ErrorCode].status });
  });

  it('every code in the catalogue is raised somewhere in src/, and only through kvError()', () => {
    const raised = new Set<string>();
    const handBuilt: string[] = [];
    for (const f of sources(join(REPO_ROOT, 'src'))) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/kvError\('([a-z_]+)'/g)) raised.add(m[1] as string);
      if (!f.endsWith('errors.ts') && /new KvError\(/.test(text)) handBuilt.push(f);
    }
    expect([...raised].sort()).toEqual(catalogue);
    expect(handBuilt).toEqual([]);
  });

  it('builds OpenAI-shaped bodies with the field named and the status from the catalogue', () => {
    const e = kvError('invalid_field', { param: 'messages[2].content', must: 'be a string, got number' });
    expect(JSON.parse(e.toBody())).toEqual({
      error: {
        message: "'messages[2].content' must be a string, got number",
        type: 'invalid_request_error',
        code: 'invalid_field',
        param: 'messages[2].content',
      },
    });
    expect(kvError('no_healthy_endpoint', { model: 'm' }, 1)).toMatchObject({ status: 503, param: 'model', retryAfter: 1 });
    expect(kvError('body_too_large', { bytes: 10, limit: 5 }).message).toBe('request body is 10 bytes; the limit is 5');
  });
});
