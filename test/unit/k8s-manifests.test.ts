// Every Kubernetes manifest the project ships (every document of every YAML under envoy/
// and deploy/) and docker-compose.yml, validated strictly against the platform schemas in
// ../shared/schemas (test/helpers/k8s-schemas.ts says how), and deploy/ checked for the
// values that must agree with each other and with the gateway manifests in envoy/.
// A failure names file, document, Kind/name and the path of the offending field.
import { parseFleet } from '../../src/config/load.js';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../helpers/envoy.js';
import { dottedPath, evalDurationRule, formatProblem, ManifestValidator, parseGoDuration, type Problem } from '../helpers/k8s-schemas.js';
import { arr, COMPOSE_FILE, findObject, isK8sObject, isObj, k8sDocuments, loadYaml, num, obj, type Obj, shippedYamlFiles, str } from '../helpers/manifests.js';

const validator = new ManifestValidator();
const where = { file: 'test.yaml', doc: 0 };
const problemsOf = (doc: unknown): Problem[] => validator.validateDocument(doc, where).problems;
const lines = (ps: Problem[]) => ps.map(formatProblem);

// ── what is validated ─────────────────────────────────────────────────────────────
describe('manifest inventory', () => {
  const files = shippedYamlFiles();
  const withK8s = files.filter((f) => loadYaml(f).some((d) => isK8sObject(d.body)));

  it('skips only the Envoy bootstraps and fleet files (documents without apiVersion + kind)', () => {
    // A manifest that lost its `kind` would otherwise be skipped silently: the list is explicit.
    expect(files.filter((f) => !withK8s.includes(f))).toEqual([
      'envoy/demo/hosted-provider-key.yaml',
      'envoy/envoy.docker.yaml',
      'envoy/envoy.yaml',
      'envoy/fleet.docker.yaml',
    ]);
  });

  it('validates the deploy/ manifests and the three gateway variants', () => {
    expect(withK8s).toEqual([
      'deploy/kvfleet.yaml',
      'deploy/redis.yaml',
      'envoy/envoy-gateway-extension-policy.yaml',
      'envoy/inferencepool.yaml',
      'envoy/istio-envoyfilter.yaml',
    ]);
  });

  it('a file with Kubernetes objects holds nothing else (an empty document aside)', () => {
    const stray = k8sDocuments().filter((d) => d.body !== null && !isK8sObject(d.body));
    expect(stray.map((d) => `${d.file} [document ${d.index}]`)).toEqual([]);
  });

  it('every object names its namespace (the gateway variants and deploy/ share `llm`)', () => {
    const missing = k8sDocuments()
      .filter((d) => isK8sObject(d.body))
      .filter((d) => {
        const md = (d.body as Obj)['metadata'];
        return !isObj(md) || typeof md['namespace'] !== 'string';
      });
    expect(missing.map((d) => `${d.file} [document ${d.index}]`)).toEqual([]);
  });
});

// ── validation against ../shared/schemas ─────────────────────────────────────────
describe('every manifest validates against ../shared/schemas (strict)', () => {
  const byFile = new Map<string, Obj[]>();
  for (const d of k8sDocuments()) if (isK8sObject(d.body)) byFile.set(d.file, [...(byFile.get(d.file) ?? []), d.body]);

  for (const file of byFile.keys()) {
    it(file, () => {
      const problems = loadYaml(file)
        .filter((d) => isK8sObject(d.body))
        .flatMap((d) => validator.validateDocument(d.body, { file, doc: d.index }).problems);
      expect(lines(problems)).toEqual([]);
    });
  }

  it(`${COMPOSE_FILE} validates against the Compose Specification`, () => {
    const docs = loadYaml(COMPOSE_FILE);
    expect(docs).toHaveLength(1);
    expect(lines(validator.validateCompose(docs[0]?.body, COMPOSE_FILE))).toEqual([]);
  });

  it("Istio's duration fields were checked by the CEL duration rule (timeouts included)", () => {
    const checked = loadYaml('envoy/istio-envoyfilter.yaml').flatMap((d) => validator.validateDocument(d.body, { file: d.file, doc: d.index }).celEvaluated);
    const paths = checked.map((c) => `${c.object} ${c.path}`);
    expect(paths).toEqual(expect.arrayContaining(['VirtualService/kvfleet-llm spec.http[0].timeout', 'VirtualService/kvfleet-llm spec.http[1].timeout']));
    expect(paths).toEqual(expect.arrayContaining(['DestinationRule/vllm-llama-3-8b spec.trafficPolicy.outlierDetection.interval']));
  });
});

// ── the validator fails bad manifests ─────────────────────────────────────────────
describe('the schema check rejects what kubectl apply would', () => {
  const virtualService = () => structuredClone(findObject('envoy/istio-envoyfilter.yaml', 'VirtualService', 'kvfleet-llm'));
  const route0 = (vs: Obj) => obj(arr(obj(vs['spec'], 'spec')['http'], 'http')[0], 'http[0]');

  it('accepts the shipped VirtualService as is', () => {
    expect(lines(problemsOf(virtualService()))).toEqual([]);
  });

  it('rejects timeout: 0s in a VirtualService (Istio ≥ 1.23: a duration of at least 1 ms)', () => {
    const vs = virtualService();
    route0(vs)['timeout'] = '0s';
    const ps = problemsOf(vs);
    expect(ps).toHaveLength(1);
    expect(ps[0]).toMatchObject({ object: 'VirtualService/kvfleet-llm', path: 'spec.http[0].timeout' });
    expect(formatProblem(ps[0] as Problem)).toMatch(
      /^test\.yaml \[document 0\] VirtualService\/kvfleet-llm: spec\.http\[0\]\.timeout: must be a valid duration greater than 1ms/,
    );
  });

  it('rejects sub-millisecond and malformed durations, accepts 1ms and 3600s', () => {
    for (const [value, ok] of [
      ['500us', false],
      ['0.5ms', false],
      ['forever', false],
      ['1ms', true],
      ['1h', true],
      ['3600s', true],
    ] as const) {
      const vs = virtualService();
      // A copy: both routes share one `retries` object (a YAML alias).
      route0(vs)['retries'] = { ...obj(route0(vs)['retries'], 'retries'), perTryTimeout: value };
      expect(
        problemsOf(vs).map((p) => p.path),
        value,
      ).toEqual(ok ? [] : ['spec.http[0].retries.perTryTimeout']);
    }
  });

  it('rejects a DestinationRule outlier interval of 0s', () => {
    const dr = structuredClone(findObject('envoy/istio-envoyfilter.yaml', 'DestinationRule', 'vllm-llama-3-8b'));
    obj(obj(obj(dr['spec'], 'spec')['trafficPolicy'], 'tp')['outlierDetection'], 'od')['interval'] = '0s';
    expect(problemsOf(dr).map((p) => p.path)).toEqual(['spec.trafficPolicy.outlierDetection.interval']);
  });

  it('rejects unknown fields in a CRD object: in spec, at the root and in metadata', () => {
    const vs = virtualService();
    route0(vs)['timout'] = '10s';
    vs['spek'] = {};
    obj(vs['metadata'], 'metadata')['labelz'] = { a: 'b' };
    const ps = problemsOf(vs);
    expect(ps.map((p) => p.path).sort()).toEqual(['metadata.labelz', 'spec.http[0].timout', 'spek']);
    expect(ps.every((p) => p.message.startsWith('unknown field'))).toBe(true);
  });

  it('keeps fields where the CRD preserves unknown fields (EnvoyFilter patch values are Envoy config)', () => {
    const ef = structuredClone(findObject('envoy/istio-envoyfilter.yaml', 'EnvoyFilter', 'kvfleet-ext-proc'));
    const patch = obj(obj(arr(obj(ef['spec'], 'spec')['configPatches'], 'patches')[0], 'patch 0')['patch'], 'patch');
    obj(patch['value'], 'value')['any_envoy_field'] = true;
    expect(lines(problemsOf(ef))).toEqual([]);
    patch['valu'] = {};
    expect(problemsOf(ef).map((p) => p.path)).toEqual(['spec.configPatches[0].patch.valu']);
  });

  it('rejects an apiVersion the CRD does not serve, and a kind with no schema', () => {
    const ef = structuredClone(findObject('envoy/istio-envoyfilter.yaml', 'EnvoyFilter', 'kvfleet-ext-proc'));
    ef['apiVersion'] = 'networking.istio.io/v1'; // EnvoyFilter is served as v1alpha3 only
    const [p] = problemsOf(ef);
    expect(p?.path).toBe('apiVersion');
    expect(p?.message).toContain('not served by the EnvoyFilter CRD (served: networking.istio.io/v1alpha3)');
    const pool = structuredClone(findObject('envoy/inferencepool.yaml', 'InferencePool', 'llama-3-8b'));
    pool['apiVersion'] = 'inference.networking.x-k8s.io/v1alpha2';
    expect(problemsOf(pool)[0]?.message).toContain('no schema for inference.networking.x-k8s.io/v1alpha2 InferencePool');
    const deploy = structuredClone(findObject('deploy/kvfleet.yaml', 'Deployment', 'kvfleet'));
    deploy['apiVersion'] = 'apps/v1beta2';
    expect(problemsOf(deploy)[0]?.message).toContain('not one the schemas know for Deployment (known: apps/v1)');
  });

  it('rejects unknown and mistyped fields in core kinds', () => {
    const d = structuredClone(findObject('deploy/kvfleet.yaml', 'Deployment', 'kvfleet'));
    const c0 = obj(arr(obj(obj(obj(d['spec'], 'spec')['template'], 'tpl')['spec'], 'pod')['containers'], 'containers')[0], 'c0');
    c0['imagePullPolicyy'] = 'Always';
    obj(c0['readinessProbe'], 'rp')['grpc'] = { port: '9002' };
    const ps = problemsOf(d);
    expect(ps.map((p) => `${p.path}: ${p.message}`)).toEqual(
      expect.arrayContaining([
        'spec.template.spec.containers[0].imagePullPolicyy: unknown field "imagePullPolicyy" (strict: not in the schema)',
        'spec.template.spec.containers[0].readinessProbe.grpc.port: must be integer',
      ]),
    );
  });

  it('rejects duplicate keys in a list-map, as the API server does (two Service ports 9002/TCP)', () => {
    const svc = structuredClone(findObject('deploy/kvfleet.yaml', 'Service', 'kvfleet'));
    const ports = arr(obj(svc['spec'], 'spec')['ports'], 'ports');
    ports.push({ ...obj(ports[0], 'port 0'), name: 'again' });
    expect(problemsOf(svc).map((p) => p.path)).toContain('spec.ports');
  });

  it('rejects a manifest without a name', () => {
    const sa = structuredClone(findObject('deploy/kvfleet.yaml', 'ServiceAccount', 'kvfleet'));
    delete obj(sa['metadata'], 'md')['name'];
    expect(problemsOf(sa).map((p) => p.path)).toEqual(['metadata.name']);
  });

  it('rejects an unknown key in docker-compose.yml', () => {
    const compose = obj(structuredClone(loadYaml(COMPOSE_FILE)[0]?.body), 'compose');
    obj(obj(compose['services'], 'services')['kvfleet'], 'kvfleet')['restart_policy'] = 'always';
    const ps = validator.validateCompose(compose, COMPOSE_FILE);
    expect(ps.map((p) => p.path)).toContain('services.kvfleet.restart_policy');
  });
});

describe('helpers of the schema check', () => {
  it('parses Go durations as CEL duration() does', () => {
    expect(parseGoDuration('0')).toBe(0);
    expect(parseGoDuration('0s')).toBe(0);
    expect(parseGoDuration('1ms')).toBe(1e6);
    expect(parseGoDuration('1.5s')).toBe(1.5e9);
    expect(parseGoDuration('1h2m3s')).toBe(3723e9);
    expect(parseGoDuration('300us')).toBe(3e5);
    expect(parseGoDuration('-2m')).toBe(-120e9);
    for (const bad of ['', '10', 's', '1d', '1 s', '1.5', 'abc']) expect(parseGoDuration(bad), bad).toBeUndefined();
  });

  it("evaluates only the rule shape duration(self) <op> duration('…')", () => {
    expect(evalDurationRule("duration(self) >= duration('1ms')", '0s')?.ok).toBe(false);
    expect(evalDurationRule("duration(self) >= duration('1ms')", '1ms')?.ok).toBe(true);
    expect(evalDurationRule("duration(self) > duration('0s')", '0s')?.ok).toBe(false);
    expect(evalDurationRule("duration(self) >= duration('1ms')", 5)?.ok).toBe(false);
    expect(evalDurationRule('self.size() == 0', 'x')).toBeUndefined();
  });

  it('renders JSON pointers as dotted paths', () => {
    expect(dottedPath('')).toBe('');
    expect(dottedPath('/spec/http/0/timeout')).toBe('spec.http[0].timeout');
    expect(dottedPath('/metadata/annotations/a~1b')).toBe('metadata.annotations.a/b');
  });
});

// ── deploy/: the values that must agree ───────────────────────────────────────────
const KV = 'deploy/kvfleet.yaml';
const deployment = () => findObject(KV, 'Deployment', 'kvfleet');
const podSpec = () => obj(obj(obj(deployment()['spec'], 'spec')['template'], 'template')['spec'], 'pod spec');
const container = () => {
  const cs = arr(podSpec()['containers'], 'containers');
  expect(cs).toHaveLength(1);
  return obj(cs[0], 'container');
};
const fleetText = () => str(obj(findObject(KV, 'ConfigMap', 'kvfleet-fleet')['data'], 'data')['fleet.yaml'], 'fleet.yaml');
const fleet = () => obj(parse(fleetText()), 'fleet file');
const server = () => obj(fleet()['server'], 'server');
const service = () => findObject(KV, 'Service', 'kvfleet');
const ns = (o: Obj) => str(obj(o['metadata'], 'metadata')['namespace'], 'namespace');
const servicePort = (name: string) =>
  obj(
    arr(obj(service()['spec'], 'spec')['ports'], 'ports').find((p) => isObj(p) && p['name'] === name),
    `Service port ${name}`,
  );

describe('deploy/kvfleet.yaml: the fleet file in the ConfigMap', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kvfleet-k8s-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const validate = async (text: string) => {
    const file = join(dir, 'fleet.yaml');
    await writeFile(file, text);
    return promisify(execFile)(process.execPath, ['bin/kvfleet.js', 'validate', file], { cwd: REPO_ROOT }).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
    );
  };

  it('passes `kvfleet validate` (the built CLI)', async () => {
    const r = await validate(fleetText());
    expect(r.out).toContain(': ok (');
    expect(r.code).toBe(0);
  });

  it('`kvfleet validate` fails the same file with a typo, so the check above can fail', async () => {
    const r = await validate(fleetText().replace('drain_seconds:', 'drain_second:'));
    expect(r.code).toBe(1);
    expect(r.out).toContain('drain_second');
  });

  it('listens on all interfaces on the ports the container, probes and Service use', () => {
    const grpc = obj(server()['grpc'], 'grpc');
    const admin = obj(server()['admin'], 'admin');
    expect(grpc).toEqual({ host: '0.0.0.0', port: 9002 });
    expect(admin).toEqual({ host: '0.0.0.0', port: 9003 });
    const ports = arr(container()['ports'], 'ports').map((p) => obj(p, 'port'));
    expect(ports.map((p) => [p['name'], p['containerPort']])).toEqual([
      ['grpc-ext-proc', grpc['port']],
      ['http-admin', admin['port']],
    ]);
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      expect(obj(obj(container()[probe], probe)['grpc'], `${probe}.grpc`)['port'], probe).toBe(grpc['port']);
    }
    expect(servicePort('grpc-ext-proc')).toMatchObject({ port: 9002, targetPort: 'grpc-ext-proc', appProtocol: 'grpc' });
    expect(servicePort('http-admin')).toMatchObject({ port: 9003, targetPort: 'http-admin' });
  });

  it('shares state through the Redis Service of deploy/redis.yaml (and the fleet file validates with it)', () => {
    const state = obj(fleet()['state'], 'state');
    expect(state['backend']).toBe('redis');
    const redis = findObject('deploy/redis.yaml', 'Service', 'kvfleet-redis');
    const port = num(obj(arr(obj(redis['spec'], 'spec')['ports'], 'ports')[0], 'port')['port'], 'port');
    expect(obj(state['redis'], 'state.redis')['url']).toBe(`redis://kvfleet-redis.${ns(redis)}.svc.cluster.local:${port}/0`);
    const res = parseFleet(fleetText());
    expect(res.ok ? [] : res.problems).toEqual([]);
  });
});

describe('deploy/kvfleet.yaml: the Deployment', () => {
  it('runs `kvfleet serve -c` on the fleet file of the ConfigMap, mounted as a directory', () => {
    expect(container()['args']).toEqual(['serve', '-c', '/etc/kvfleet/fleet.yaml']);
    const mount = obj(
      arr(container()['volumeMounts'], 'volumeMounts').find((m) => isObj(m) && m['name'] === 'fleet'),
      'fleet mount',
    );
    // No subPath: the kubelet's atomic symlink swap only reaches a directory mount.
    expect(mount).toEqual({ name: 'fleet', mountPath: dirname('/etc/kvfleet/fleet.yaml'), readOnly: true });
    const volume = obj(
      arr(podSpec()['volumes'], 'volumes').find((v) => isObj(v) && v['name'] === 'fleet'),
      'fleet volume',
    );
    expect(volume).toEqual({ name: 'fleet', configMap: { name: 'kvfleet-fleet' } }); // no `items` remapping
    expect(Object.keys(obj(findObject(KV, 'ConfigMap', 'kvfleet-fleet')['data'], 'data'))).toEqual([basename('/etc/kvfleet/fleet.yaml')]);
  });

  it('has 2+ replicas, rolls one at a time without going below the replica count', () => {
    const spec = obj(deployment()['spec'], 'spec');
    expect(num(spec['replicas'], 'replicas')).toBeGreaterThanOrEqual(2);
    expect(spec['strategy']).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
  });

  it('probes the gRPC health service: readiness and liveness names', () => {
    const c = container();
    expect(obj(c['readinessProbe'], 'rp')['grpc']).toEqual({ port: 9002, service: 'readiness' });
    expect(obj(c['livenessProbe'], 'lp')['grpc']).toEqual({ port: 9002, service: 'liveness' });
    expect(obj(c['startupProbe'], 'sp')['grpc']).toEqual({ port: 9002, service: 'liveness' });
  });

  it('gives the drain its time: grace period = preStop sleep + server.drain_seconds + a margin', () => {
    const drain = num(server()['drain_seconds'], 'drain_seconds');
    const preStop = num(obj(obj(obj(container()['lifecycle'], 'lifecycle')['preStop'], 'preStop')['sleep'], 'sleep')['seconds'], 'sleep');
    const grace = num(podSpec()['terminationGracePeriodSeconds'], 'terminationGracePeriodSeconds');
    expect({ preStop, drain, grace }).toEqual({ preStop: 5, drain: 60, grace: 75 });
    const margin = grace - preStop - drain;
    expect(margin).toBeGreaterThanOrEqual(5);
    expect(margin).toBeLessThanOrEqual(30);
    // The comments next to both numbers say the same.
    expect(fleetText()).toContain(`terminationGracePeriodSeconds (${grace}) = preStop sleep (${preStop}) + this (${drain})`);
  });

  it('runs as a non-root user with a read-only root filesystem and no privileges', () => {
    const pod = obj(podSpec()['securityContext'], 'pod securityContext');
    expect(pod).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container()['securityContext']).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(podSpec()['automountServiceAccountToken']).toBe(false);
    expect(podSpec()['serviceAccountName']).toBe('kvfleet');
    expect(findObject(KV, 'ServiceAccount', 'kvfleet')['automountServiceAccountToken']).toBe(false);
  });

  it('has resource requests and limits', () => {
    const r = obj(container()['resources'], 'resources');
    expect(Object.keys(obj(r['requests'], 'requests')).sort()).toEqual(['cpu', 'memory']);
    expect(Object.keys(obj(r['limits'], 'limits')).sort()).toEqual(['cpu', 'memory']);
  });

  it('uses the published image name, tagged with the package version', async () => {
    const { readFile } = await import('node:fs/promises');
    const pkg = obj(JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as unknown, 'package.json');
    expect(container()['image']).toBe(`ghcr.io/kvfleet/kvfleet:${str(pkg['version'], 'version')}`);
  });

  it('Service, PodDisruptionBudget and spread constraint select the pods of the Deployment', () => {
    const labels = obj(obj(obj(obj(deployment()['spec'], 'spec')['template'], 'template')['metadata'], 'md')['labels'], 'labels');
    const selector = obj(obj(deployment()['spec'], 'spec')['selector'], 'selector');
    const sel = obj(selector['matchLabels'], 'matchLabels');
    const selects = (s: Obj) => Object.entries(s).every(([k, v]) => labels[k] === v);
    expect(selects(sel)).toBe(true);
    expect(obj(service()['spec'], 'spec')['selector']).toEqual(sel);
    expect(obj(obj(findObject(KV, 'PodDisruptionBudget', 'kvfleet')['spec'], 'pdb')['selector'], 's')).toEqual(selector);
    const tsc = obj(arr(podSpec()['topologySpreadConstraints'], 'tsc')[0], 'tsc 0');
    expect(obj(tsc['labelSelector'], 'ls')).toEqual(selector);
    expect(findObject(KV, 'PodDisruptionBudget', 'kvfleet')['spec']).toMatchObject({ maxUnavailable: 1 });
  });
});

describe('deploy/redis.yaml', () => {
  it('the Service selects the StatefulSet, and only kvfleet pods may connect', () => {
    const sts = findObject('deploy/redis.yaml', 'StatefulSet', 'kvfleet-redis');
    const labels = obj(obj(obj(obj(sts['spec'], 'spec')['template'], 't')['metadata'], 'md')['labels'], 'labels');
    const svc = findObject('deploy/redis.yaml', 'Service', 'kvfleet-redis');
    for (const [k, v] of Object.entries(obj(obj(svc['spec'], 'spec')['selector'], 'selector'))) expect(labels[k]).toBe(v);
    expect(obj(sts['spec'], 'spec')['serviceName']).toBe('kvfleet-redis');
    const np = findObject('deploy/redis.yaml', 'NetworkPolicy', 'kvfleet-redis');
    const from = obj(arr(obj(arr(obj(np['spec'], 'spec')['ingress'], 'ingress')[0], 'rule')['from'], 'from')[0], 'peer');
    const kvLabels = obj(obj(obj(obj(deployment()['spec'], 'spec')['template'], 't')['metadata'], 'md')['labels'], 'labels');
    for (const [k, v] of Object.entries(obj(obj(from['podSelector'], 'ps')['matchLabels'], 'ml'))) expect(kvLabels[k]).toBe(v);
    expect(ns(np)).toBe(ns(deployment()));
  });
});

// ── the gateway variants point at deploy/'s Service ───────────────────────────────
describe("the gateway manifests in envoy/ point at deploy/'s kvfleet Service", () => {
  const name = () => str(obj(service()['metadata'], 'md')['name'], 'name');
  const grpcPort = () => num(servicePort('grpc-ext-proc')['port'], 'port');

  it('Istio: the ext_proc cluster is the Service, by Istio cluster name', () => {
    const ef = findObject('envoy/istio-envoyfilter.yaml', 'EnvoyFilter', 'kvfleet-ext-proc');
    const patch = arr(obj(ef['spec'], 'spec')['configPatches'], 'patches')
      .map((p) => obj(p, 'patch'))
      .find((p) => p['applyTo'] === 'HTTP_FILTER');
    const tc = obj(obj(obj(obj(patch, 'filter patch')['patch'], 'patch')['value'], 'value')['typed_config'], 'typed_config');
    const cluster = obj(obj(tc['grpc_service'], 'grpc_service')['envoy_grpc'], 'envoy_grpc')['cluster_name'];
    expect(cluster).toBe(`outbound|${grpcPort()}||${name()}.${ns(service())}.svc.cluster.local`);
  });

  it("Istio: the meter's cluster is the same Service, whose DestinationRule renews the connections", () => {
    const ef = findObject('envoy/istio-envoyfilter.yaml', 'EnvoyFilter', 'kvfleet-ext-proc');
    const meter = arr(obj(ef['spec'], 'spec')['configPatches'], 'patches')
      .map((p) => obj(p, 'patch'))
      .map((p) => obj(obj(p['patch'], 'patch')['value'], 'value'))
      .find((v) => v['name'] === 'kvfleet-meter');
    const tc = obj(obj(meter, 'the meter patch')['typed_config'], 'typed_config');
    const cluster = obj(obj(tc['grpc_service'], 'grpc_service')['envoy_grpc'], 'envoy_grpc')['cluster_name'];
    const fqdn = `${name()}.${ns(service())}.svc.cluster.local`;
    expect(cluster).toBe(`outbound|${grpcPort()}||${fqdn}`);
    const dr = findObject('envoy/istio-envoyfilter.yaml', 'DestinationRule', name());
    expect(obj(dr['spec'], 'spec')['host']).toBe(fqdn);
    expect(ns(dr)).toBe(ns(service()));
  });

  it('Envoy Gateway: extProc backendRefs name the Service and its port, in its namespace', () => {
    const eep = findObject('envoy/envoy-gateway-extension-policy.yaml', 'EnvoyExtensionPolicy', 'kvfleet');
    const refs = arr(obj(arr(obj(eep['spec'], 'spec')['extProc'], 'extProc')[0], 'extProc[0]')['backendRefs'], 'backendRefs');
    expect(refs).toHaveLength(1);
    const ref = obj(refs[0], 'ref');
    expect(ref['name']).toBe(name());
    expect(ref['port']).toBe(grpcPort());
    expect(typeof ref['namespace'] === 'string' ? ref['namespace'] : ns(eep)).toBe(ns(service()));
  });

  it('InferencePool: the endpoint picker is the Service (same namespace, as the API requires)', () => {
    const pool = findObject('envoy/inferencepool.yaml', 'InferencePool', 'llama-3-8b');
    const ref = obj(obj(pool['spec'], 'spec')['endpointPickerRef'], 'endpointPickerRef');
    expect(ref).toMatchObject({ kind: 'Service', name: name(), port: { number: grpcPort() } });
    expect(ns(pool)).toBe(ns(service()));
    // The fleet file serves the pool from the gateway's subset hint.
    expect(fleet()['discovery']).toEqual({ subset_hint: true });
  });

  it('no other manifest defines a kvfleet Service (one owner for the selector)', () => {
    const services = k8sDocuments().filter((d) => isK8sObject(d.body) && d.body['kind'] === 'Service');
    const kv = services.filter((d) => isObj((d.body as Obj)['metadata']) && obj((d.body as Obj)['metadata'], 'md')['name'] === 'kvfleet');
    expect(kv.map((d) => d.file)).toEqual([KV]);
  });
});
