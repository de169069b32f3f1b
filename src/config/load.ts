// Fleet file → frozen, typed Fleet. Every problem is reported with its path
// (`models[2].endpoints[0]: …`); an invalid file never produces a Fleet.
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { fleetSchema, type FleetFile } from './fleet-schema.js';
import { buildFleet, type Fleet } from './fleet.js';

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

/** Parse and validate fleet YAML text. Pure: no I/O. */
export function parseFleet(text: string): ParseResult {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return { ok: false, problems: doc.errors.map((e) => `yaml: ${e.message.split('\n')[0] ?? e.message}`) };
  }
  const raw: unknown = doc.toJS();
  const res = fleetSchema.safeParse(raw ?? {});
  if (!res.success) {
    return { ok: false, problems: res.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`) };
  }
  return { ok: true, fleet: buildFleet(res.data), file: res.data };
}

export async function loadFleetFile(path: string): Promise<Fleet> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new FleetFileError(path, [`cannot read file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  const res = parseFleet(text);
  if (!res.ok) throw new FleetFileError(path, res.problems);
  return res.fleet;
}
