// The YAML files the project ships for Kubernetes and docker-compose, loaded document by
// document (test/unit/k8s-manifests.test.ts, test/unit/ext-proc-variants.test.ts).
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from './envoy.js';

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

export function obj(v: unknown, what: string): Obj {
  if (!isObj(v)) throw new Error(`${what}: expected an object, got ${JSON.stringify(v)}`);
  return v;
}
export function arr(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) throw new Error(`${what}: expected a list, got ${JSON.stringify(v)}`);
  return v;
}
export function str(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new Error(`${what}: expected a string, got ${JSON.stringify(v)}`);
  return v;
}
export function num(v: unknown, what: string): number {
  if (typeof v !== 'number') throw new Error(`${what}: expected a number, got ${JSON.stringify(v)}`);
  return v;
}

/** Directories whose YAML files are checked, relative to the repository root. */
export const MANIFEST_DIRS = ['envoy', 'deploy'] as const;
export const COMPOSE_FILE = 'docker-compose.yml';

export function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => {
      const p = join(dir, e.name);
      if (e.isDirectory()) return yamlFiles(p);
      return /\.ya?ml$/.test(e.name) ? [p] : [];
    })
    .sort();
}

export interface YamlDoc {
  /** Path relative to the repository root. */
  file: string;
  /** 0-based index of the document in the file. */
  index: number;
  body: unknown;
}

/** Every document of a YAML file (merge keys `<<:` resolved, as docker compose does). */
export function loadYaml(rel: string): YamlDoc[] {
  const text = readFileSync(join(REPO_ROOT, rel), 'utf8');
  return parseAllDocuments(text, { merge: true }).map((d, index) => {
    if (d.errors.length > 0) throw new Error(`${rel} [document ${index}]: ${d.errors.map((e) => e.message).join('; ')}`);
    return { file: rel, index, body: d.toJS() as unknown };
  });
}

/** A Kubernetes object: a document with a string apiVersion and kind. */
export const isK8sObject = (body: unknown): body is Obj => isObj(body) && typeof body['apiVersion'] === 'string' && typeof body['kind'] === 'string';

/** Every YAML file under MANIFEST_DIRS, relative to the repository root. */
export function shippedYamlFiles(): string[] {
  return MANIFEST_DIRS.flatMap((d) => yamlFiles(join(REPO_ROOT, d)))
    .map((f) => relative(REPO_ROOT, f))
    .sort();
}

/** The documents of every file that holds at least one Kubernetes object. */
export function k8sDocuments(): YamlDoc[] {
  return shippedYamlFiles()
    .map(loadYaml)
    .filter((docs) => docs.some((d) => isK8sObject(d.body)))
    .flat();
}

/** The one Kubernetes object of `kind` named `name` in `file`. */
export function findObject(file: string, kind: string, name: string): Obj {
  const hits = loadYaml(file).filter((d) => {
    const b = d.body;
    return isK8sObject(b) && b['kind'] === kind && isObj(b['metadata']) && b['metadata']['name'] === name;
  });
  if (hits.length !== 1) throw new Error(`${file}: expected one ${kind}/${name}, found ${hits.length}`);
  return obj(hits[0]?.body, `${file} ${kind}/${name}`);
}
