// Fleet file → frozen, typed Fleet. Every problem is reported with its path
// (`models[2].endpoints[0]: …`); an invalid file never produces a Fleet.
// identity.keys_file (tenant → API key hashes) is read here too, relative to the
// fleet file, and checked the same way: a reload with a bad keys file keeps the old fleet.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { fleetSchema, type FleetFile } from './fleet-schema.js';
import { buildFleet, type Fleet } from './fleet.js';
import { keyHash } from './policy-schema.js';

export class FleetFileError extends Error {
  readonly problems: readonly string[];
  constructor(source: string, problems: readonly string[]) {
    super(`${source}: ${problems.length} problem(s)\n  ${problems.join('\n  ')}`);
    this.name = 'FleetFileError';
    this.problems = problems;
  }
}

/** `['models', 2, 'endpoints', 0]` → `models[2].endpoints[0]`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out === '' ? '(root)' : out;
}

export type ParseResult = { ok: true; fleet: Fleet; file: FleetFile } | { ok: false; problems: string[] };

function yamlOf(text: string): { ok: true; value: unknown } | { ok: false; problems: string[] } {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) return { ok: false, problems: doc.errors.map((e) => `yaml: ${e.message.split('\n')[0] ?? e.message}`) };
  return { ok: true, value: doc.toJS() };
}

/** Parse and validate fleet YAML text (without its keys file). Pure: no I/O. */
export function parseFleet(text: string, extraKeys?: Readonly<Record<string, readonly string[]>>): ParseResult {
  const y = yamlOf(text);
  if (!y.ok) return y;
  const res = fleetSchema.safeParse(y.value ?? {});
  if (!res.success) return { ok: false, problems: res.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`) };
  return { ok: true, fleet: buildFleet(res.data, extraKeys), file: res.data };
}

const keysFileSchema = z.record(z.string(), z.array(keyHash));

/** identity.keys_file: `tenant: [sha256:…]`, every tenant declared in the fleet file. Every problem reported at once. */
export function parseKeysFile(text: string, tenants: ReadonlySet<string>): { ok: true; keys: Record<string, string[]> } | { ok: false; problems: string[] } {
  const y = yamlOf(text);
  if (!y.ok) return y;
  const raw = y.value ?? {};
  const res = keysFileSchema.safeParse(raw);
  const problems = res.success ? [] : res.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`);
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    for (const t of Object.keys(raw)) if (!tenants.has(t)) problems.push(`${t}: not a tenant in the fleet file's tenants:`);
  }
  return res.success && problems.length === 0 ? { ok: true, keys: res.data } : { ok: false, problems };
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new FleetFileError(path, [`cannot read file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
}

export async function loadFleetFile(path: string): Promise<Fleet> {
  const res = parseFleet(await readText(path));
  if (!res.ok) throw new FleetFileError(path, res.problems);
  const keysFile = res.file.identity?.keys_file;
  if (keysFile === undefined) return res.fleet;
  const keysPath = resolve(dirname(path), keysFile);
  const keys = parseKeysFile(await readText(keysPath), new Set(Object.keys(res.file.tenants ?? {})));
  if (!keys.ok) throw new FleetFileError(keysPath, keys.problems);
  return buildFleet(res.file, keys.keys);
}
