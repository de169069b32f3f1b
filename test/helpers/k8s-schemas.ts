// Strict schema validation of the Kubernetes manifests and the compose file the project
// ships, against the platform schemas in ../shared/schemas (provenance: its index.json):
//   - Kubernetes core kinds: standalone OpenAPI-derived JSON Schemas, already strict
//     (additionalProperties: false everywhere);
//   - CRDs (Istio, Envoy Gateway, Gateway API, Inference Extension): each served version's
//     openAPIV3Schema. Those are NOT strict as written: the API server prunes or, with
//     `kubectl apply`'s default field validation (Strict), rejects fields the structural
//     schema does not declare. strictify() makes that explicit (additionalProperties: false
//     on every object node that does not say x-kubernetes-preserve-unknown-fields), adds
//     apiVersion (only the versions the CRD serves), kind and the core ObjectMeta schema;
//   - the Compose Specification (JSON Schema draft-07).
// Validator: ajv (draft-07 default). The OpenAPI extension keywords (x-kubernetes-*) are
// registered explicitly, so any other unknown keyword still fails the schema compile; two
// of them are enforced as the API server does (list-type set/map uniqueness, int-or-string).
//
// CEL rules (x-kubernetes-validations) are run by the API server and cannot be run by a
// JSON-Schema validator. Istio's duration fields carry their "≥ 1 ms" limit ONLY as CEL
// (`duration(self) >= duration('1ms')`, no pattern), which is how `timeout: 0s` passed
// every schema check yet was refused by `kubectl apply`. celDurationRules() evaluates the
// one rule shape that guards duration fields, `duration(self) <op> duration('<literal>')`
// (Go duration syntax, as CEL's duration() parses it); every other CEL rule a document
// reaches is returned in `celNotEvaluated`, so callers can see what was left to the server.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ajv, type ErrorObject, type SchemaObject, type ValidateFunction } from 'ajv';
import ajvFormatsModule from 'ajv-formats';
import { z } from 'zod';
import { REPO_ROOT } from './envoy.js';

// ajv-formats is CommonJS: under NodeNext its default import is `module.exports`, whose
// `default` property is the plugin function.
const addFormats = ajvFormatsModule.default;

/** ../shared/schemas beside the repository (CI clones the repo with ../shared next to it). */
export const SCHEMA_ROOT = resolve(REPO_ROOT, '..', 'shared', 'schemas');

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

// ── index.json and CRD files ──────────────────────────────────────────────────────
const indexSchema = z.object({
  crds: z.array(z.object({ group: z.string(), kind: z.string(), file: z.string(), versions: z.array(z.string()).min(1) })),
  core: z.array(z.object({ apiVersion: z.string(), kind: z.string(), file: z.string() })),
  compose: z.object({ file: z.string() }),
});
export type SchemaIndex = z.infer<typeof indexSchema>;

const crdFileSchema = z.object({
  group: z.string(),
  kind: z.string(),
  scope: z.string(),
  versions: z.array(z.object({ name: z.string(), served: z.boolean(), deprecated: z.boolean().optional(), schema: z.record(z.string(), z.unknown()) })),
});

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8')) as unknown;
}

export function loadIndex(root = SCHEMA_ROOT): SchemaIndex {
  return indexSchema.parse(readJson(join(root, 'index.json')));
}

// ── problems ──────────────────────────────────────────────────────────────────────
export interface Where {
  /** File name as it should appear in a message (relative to the repo). */
  file: string;
  /** 0-based index of the YAML document in the file. */
  doc: number;
}

export interface Problem extends Where {
  /** `Kind/name` of the document (`?` when absent). */
  object: string;
  /** Dotted path to the offending value: `spec.http[0].timeout`. */
  path: string;
  message: string;
}

export function formatProblem(p: Problem): string {
  return `${p.file} [document ${p.doc}] ${p.object}: ${p.path === '' ? '(root)' : p.path}: ${p.message}`;
}

/** A CEL rule a document reached that this validator did not evaluate (the API server will). */
export interface CelRule extends Where {
  object: string;
  path: string;
  rule: string;
}

export interface Result {
  problems: Problem[];
  /** Duration CEL rules evaluated here (passed or failed). */
  celEvaluated: CelRule[];
  celNotEvaluated: CelRule[];
}

/** JSON pointer (`/spec/http/0/timeout`) → `spec.http[0].timeout`. */
export function dottedPath(pointer: string): string {
  if (pointer === '') return '';
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc === '' ? seg : `${acc}.${seg}`), '');
}

function objectName(doc: unknown): string {
  if (!isObj(doc)) return '?';
  const md = doc['metadata'];
  const name = isObj(md) && typeof md['name'] === 'string' ? md['name'] : '?';
  return `${typeof doc['kind'] === 'string' ? doc['kind'] : '?'}/${name}`;
}

function ajvMessage(e: ErrorObject): { path: string; message: string } {
  const path = dottedPath(e.instancePath);
  const params: Json = isObj(e.params) ? e.params : {};
  if (e.keyword === 'additionalProperties' && typeof params['additionalProperty'] === 'string') {
    const field = params['additionalProperty'];
    return { path: path === '' ? field : `${path}.${field}`, message: `unknown field "${field}" (strict: not in the schema)` };
  }
  if (e.keyword === 'enum' && Array.isArray(params['allowedValues'])) {
    return { path, message: `must be one of ${JSON.stringify(params['allowedValues'])}` };
  }
  return { path, message: e.message ?? e.keyword };
}

// ── Go durations (CEL's duration()) ──────────────────────────────────────────────
const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, μs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration, in nanoseconds (a float: precision is ample for comparisons). */
export function parseGoDuration(s: string): number | undefined {
  const m = /^([-+]?)(.*)$/.exec(s);
  if (!m) return undefined;
  const body = m[2] ?? '';
  if (body === '0') return 0;
  if (body === '') return undefined;
  const part = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gy;
  let total = 0;
  let at = 0;
  for (let p = part.exec(body); p !== null; p = part.exec(body)) {
    total += Number(p[1]) * (UNIT_NS[p[2] ?? ''] ?? Number.NaN);
    at = part.lastIndex;
  }
  if (at !== body.length || Number.isNaN(total)) return undefined;
  return m[1] === '-' ? -total : total;
}

const DURATION_RULE = /^\s*duration\(self\)\s*(>=|>|<=|<|==|!=)\s*duration\('([^']*)'\)\s*$/;

/** Evaluates `duration(self) <op> duration('<lit>')`; undefined when the rule has another shape. */
export function evalDurationRule(rule: string, value: unknown): { ok: boolean; why?: string } | undefined {
  const m = DURATION_RULE.exec(rule);
  if (!m) return undefined;
  const limit = parseGoDuration(m[2] ?? '');
  if (limit === undefined) return undefined;
  if (typeof value !== 'string') return { ok: false, why: `not a duration string: ${JSON.stringify(value)}` };
  const v = parseGoDuration(value);
  if (v === undefined) return { ok: false, why: `"${value}" is not a valid duration` };
  const ok = { '>=': v >= limit, '>': v > limit, '<=': v <= limit, '<': v < limit, '==': v === limit, '!=': v !== limit }[m[1] as '>='];
  return ok ? { ok } : { ok, why: `"${value}" fails ${rule}` };
}

/**
 * Walks the structural schema beside the data (properties, additionalProperties, items)
 * and evaluates the duration CEL rules on the values they guard.
 */
interface CelWalk {
  problems: Array<{ path: string; message: string }>;
  evaluated: Array<{ path: string; rule: string }>;
  skipped: Array<{ path: string; rule: string }>;
}

function celDurationRules(schema: unknown, data: unknown, path: string, out: CelWalk): void {
  if (!isObj(schema)) return;
  const rules = schema['x-kubernetes-validations'];
  if (Array.isArray(rules)) {
    for (const r of rules) {
      if (!isObj(r) || typeof r['rule'] !== 'string') continue;
      const res = evalDurationRule(r['rule'], data);
      if (res === undefined) {
        out.skipped.push({ path, rule: r['rule'] });
        continue;
      }
      out.evaluated.push({ path, rule: r['rule'] });
      if (!res.ok) {
        const msg = typeof r['message'] === 'string' ? r['message'] : 'CEL rule failed';
        out.problems.push({ path, message: `${msg} (CEL, checked here: ${res.why ?? r['rule']})` });
      }
    }
  }
  if (Array.isArray(data)) {
    data.forEach((x, i) => celDurationRules(schema['items'], x, `${path}[${i}]`, out));
  } else if (isObj(data)) {
    const props = isObj(schema['properties']) ? schema['properties'] : {};
    for (const [k, v] of Object.entries(data)) {
      const sub = k in props ? props[k] : schema['additionalProperties'];
      celDurationRules(sub, v, path === '' ? k : `${path}.${k}`, out);
    }
  }
}

// ── making CRD schemas strict ─────────────────────────────────────────────────────
/**
 * additionalProperties: false on every object node of the structural schema (the nodes
 * reached through properties / additionalProperties / items) that neither declares
 * additionalProperties nor preserves unknown fields: what the API server's strict field
 * validation does. allOf/anyOf/oneOf/not hold value validations only (structural schema
 * rule) and are left untouched.
 */
export function strictify(node: unknown): void {
  if (Array.isArray(node)) return;
  if (!isObj(node)) return;
  const isObject = node['type'] === 'object' || isObj(node['properties']);
  if (isObject && node['additionalProperties'] === undefined && node['x-kubernetes-preserve-unknown-fields'] !== true) {
    node['additionalProperties'] = false;
  }
  if (isObj(node['properties'])) for (const v of Object.values(node['properties'])) strictify(v);
  if (isObj(node['additionalProperties'])) strictify(node['additionalProperties']);
  strictify(node['items']);
}

// ── the validator ─────────────────────────────────────────────────────────────────
/** Kubernetes OpenAPI extensions that are annotations only (no check here). */
const ANNOTATION_KEYWORDS = [
  'x-kubernetes-validations', // CEL: see celDurationRules
  'x-kubernetes-preserve-unknown-fields', // used by strictify()
  'x-kubernetes-list-map-keys', // read by x-kubernetes-list-type
  'x-kubernetes-map-type',
  'x-kubernetes-patch-strategy',
  'x-kubernetes-patch-merge-key',
  'x-kubernetes-unions',
  'x-kubernetes-group-version-kind',
  'x-kubernetes-embedded-resource',
];

interface Target {
  label: string;
  validate: ValidateFunction;
  /** The structural schema, for the CEL duration walk. */
  schema: SchemaObject;
}

export class ManifestValidator {
  readonly index: SchemaIndex;
  private readonly ajv: Ajv;
  private readonly objectMeta: SchemaObject;
  private readonly compiled = new Map<string, Target>();
  private composeValidate: ValidateFunction | undefined;

  constructor(readonly root = SCHEMA_ROOT) {
    this.index = loadIndex(root);
    this.ajv = new Ajv({
      allErrors: true,
      strictSchema: true, // an unknown keyword in a schema is a compile error, never ignored
      strictNumbers: true,
      strictTypes: false, // CRD schemas put `properties` beside anyOf/oneOf without a type
      strictTuples: false,
      strictRequired: false,
      allowUnionTypes: true, // core schemas use type: ["string", "null"]
      validateFormats: true,
    });
    addFormats(this.ajv); // int32, int64, double, byte, date-time, ipv4, ipv6 …
    for (const keyword of ANNOTATION_KEYWORDS) this.ajv.addKeyword({ keyword });
    this.ajv.addKeyword({
      keyword: 'x-kubernetes-int-or-string',
      schemaType: 'boolean',
      errors: false,
      validate: (on: boolean, data: unknown) => !on || typeof data === 'string' || Number.isInteger(data),
    });
    this.ajv.addKeyword({
      keyword: 'x-kubernetes-list-type',
      schemaType: 'string',
      errors: false,
      // As the API server: a "set" holds no duplicates, a "map" no two items with the same keys.
      validate: (type: string, data: unknown, parent?: SchemaObject) => {
        if (!Array.isArray(data)) return true;
        let keyOf: (item: unknown) => string;
        if (type === 'set') keyOf = (item) => JSON.stringify(item);
        else if (type === 'map') {
          const keys = Array.isArray(parent?.['x-kubernetes-list-map-keys']) ? (parent['x-kubernetes-list-map-keys'] as unknown[]) : [];
          keyOf = (item) => JSON.stringify(keys.map((k) => (isObj(item) ? item[String(k)] : undefined)));
        } else return true;
        return new Set(data.map(keyOf)).size === data.length;
      },
    });
    const configMap = readJson(join(root, this.fileOfCore('v1', 'ConfigMap')));
    const md = isObj(configMap) && isObj(configMap['properties']) ? configMap['properties']['metadata'] : undefined;
    if (!isObj(md)) throw new Error('core ConfigMap schema has no metadata (ObjectMeta) schema');
    this.objectMeta = md;
  }

  private fileOfCore(apiVersion: string, kind: string): string {
    const e = this.index.core.find((c) => c.apiVersion === apiVersion && c.kind === kind);
    if (!e) throw new Error(`index.json lists no core schema for ${apiVersion} ${kind}`);
    return e.file;
  }

  /** The compiled schema for apiVersion/kind, or a message saying why there is none. */
  private target(apiVersion: string, kind: string): Target | string {
    const key = `${apiVersion} ${kind}`;
    const hit = this.compiled.get(key);
    if (hit) return hit;
    const core = this.index.core.find((c) => c.apiVersion === apiVersion && c.kind === kind);
    let schema: SchemaObject;
    if (core) {
      const raw = readJson(join(this.root, core.file));
      if (!isObj(raw)) throw new Error(`${core.file}: not a JSON object`);
      schema = structuredClone(raw);
      delete schema['$schema']; // "http://json-schema.org/schema#": ajv validates as draft-07
      schema['required'] = ['apiVersion', 'kind', 'metadata'];
    } else {
      const slash = apiVersion.lastIndexOf('/');
      const group = slash < 0 ? '' : apiVersion.slice(0, slash);
      const version = apiVersion.slice(slash + 1);
      const entry = this.index.crds.find((c) => c.group === group && c.kind === kind);
      if (!entry) {
        const known = [...this.index.core.filter((c) => c.kind === kind).map((c) => c.apiVersion)];
        return known.length > 0
          ? `apiVersion "${apiVersion}" is not one the schemas know for ${kind} (known: ${known.join(', ')})`
          : `no schema for ${apiVersion} ${kind} in ../shared/schemas/index.json`;
      }
      const crd = crdFileSchema.parse(readJson(join(this.root, entry.file)));
      const v = crd.versions.find((x) => x.name === version);
      if (!entry.versions.includes(version) || !v?.served) {
        return `apiVersion "${apiVersion}" is not served by the ${kind} CRD (served: ${entry.versions.map((x) => `${group}/${x}`).join(', ')})`;
      }
      schema = structuredClone(v.schema);
      strictify(schema);
      const props = isObj(schema['properties']) ? schema['properties'] : {};
      // After the CRD's own (some declare `metadata: {type: object}`): ObjectMeta is validated
      // by the API server whatever the CRD says, and apiVersion must be this served version.
      schema['properties'] = {
        ...props,
        apiVersion: { type: 'string', const: apiVersion },
        kind: { type: 'string', const: kind },
        metadata: this.objectMeta,
      };
      schema['required'] = [...new Set(['apiVersion', 'kind', 'metadata', ...(Array.isArray(schema['required']) ? (schema['required'] as string[]) : [])])];
    }
    const t: Target = { label: key, validate: this.ajv.compile(schema), schema };
    this.compiled.set(key, t);
    return t;
  }

  /** One Kubernetes document (a parsed YAML document with apiVersion and kind). */
  validateDocument(doc: unknown, where: Where): Result {
    const object = objectName(doc);
    const problem = (path: string, message: string): Problem => ({ ...where, object, path, message });
    if (!isObj(doc) || typeof doc['apiVersion'] !== 'string' || typeof doc['kind'] !== 'string') {
      return { problems: [problem('', 'not a Kubernetes object: apiVersion and kind are required')], celEvaluated: [], celNotEvaluated: [] };
    }
    const t = this.target(doc['apiVersion'], doc['kind']);
    if (typeof t === 'string') return { problems: [problem('apiVersion', t)], celEvaluated: [], celNotEvaluated: [] };
    const problems: Problem[] = [];
    if (!t.validate(doc)) {
      const seen = new Set<string>();
      for (const e of t.validate.errors ?? []) {
        const m = ajvMessage(e);
        const line = `${m.path}\0${m.message}`;
        if (seen.has(line)) continue;
        seen.add(line);
        problems.push(problem(m.path, m.message));
      }
    }
    const md = doc['metadata'];
    if (!isObj(md) || typeof md['name'] !== 'string' || md['name'] === '') {
      problems.push(problem('metadata.name', 'required (kubectl apply needs a name)'));
    }
    const cel: CelWalk = { problems: [], evaluated: [], skipped: [] };
    celDurationRules(t.schema, doc, '', cel);
    for (const c of cel.problems) problems.push(problem(c.path, c.message));
    const rule = (r: { path: string; rule: string }): CelRule => ({ ...where, object, path: r.path, rule: r.rule });
    return { problems, celEvaluated: cel.evaluated.map(rule), celNotEvaluated: cel.skipped.map(rule) };
  }

  /** A docker-compose file against the Compose Specification. */
  validateCompose(doc: unknown, file: string): Problem[] {
    if (this.composeValidate === undefined) {
      const raw = readJson(join(this.root, this.index.compose.file));
      if (!isObj(raw)) throw new Error('compose schema: not a JSON object');
      // Draft-07, ajv's default draft; its "$schema" URI (https, no "#") is not the one ajv
      // registers for draft-07, so it is checked here and dropped.
      if (!String(raw['$schema']).includes('draft-07')) throw new Error(`compose schema: expected draft-07, got ${String(raw['$schema'])}`);
      const schema = structuredClone(raw);
      delete schema['$schema'];
      this.composeValidate = this.ajv.compile(schema);
    }
    const v = this.composeValidate;
    if (v(doc)) return [];
    return (v.errors ?? []).map((e) => ({ file, doc: 0, object: 'compose', ...ajvMessage(e) }));
  }
}
