// The compose variants are GENERATED (`npm run render:docker-envoy`), comments included, so
// they cannot drift: test/unit/envoy-config.test.ts checks the committed files equal what this
// renders. envoy/envoy.docker.yaml from envoy/envoy.yaml, and envoy/fleet.docker.yaml from
// examples/fleet.yaml. Only addresses change:
//   - listener and admin bind 0.0.0.0 inside the container (compose publishes them on the
//     host's loopback only; kvfleet reads admin /clusters for endpoint health);
//   - kvfleet, the replicas and the hosted stand-in are compose service names: STATIC
//     clusters become STRICT_DNS (IPv4), LOGICAL_DNS ones keep their type;
//   - the demo TLS material and provider key are mounted at /etc/envoy/demo;
//   - in the fleet file, kvfleet listens on 0.0.0.0 and endpoints are the replicas' IPs pinned
//     in docker-compose.yml (override_host matches RESOLVED addresses, never service names).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMap, isScalar, isSeq, parseDocument, visit, type Document, type YAMLMap } from 'yaml';

/** Loopback port in envoy.yaml → compose service name. */
export const DOCKER_SERVICES: Readonly<Record<number, string>> = {
  9002: 'kvfleet',
  18001: 'sim-llama',
  18002: 'sim-llama',
  18011: 'sim-qwen',
  18012: 'sim-qwen',
  18443: 'sim-hosted',
  // kvfleet_shadow: shadow copies go back into Envoy's own listener, inside its container.
  10000: 'localhost',
};

const HEADER = ` kvfleet — Envoy bootstrap for docker-compose.yml (official envoyproxy/envoy image).

 GENERATED from envoy/envoy.yaml by \`npm run render:docker-envoy\` (src/tools/envoy/docker-variant.ts):
 edit envoy.yaml, then render. The SAME configuration, comments included; only addresses
 differ: listener and admin bind 0.0.0.0 inside the container (compose publishes them on the
 host's loopback only), and kvfleet, the replicas and the hosted stand-in are compose service
 names resolved with DNS.

 STRICT_DNS and override_host: Envoy creates one host per resolved address, and override_host
 matches kvfleet's "ip:port" strings against those RESOLVED addresses, never against the names
 below. So kvfleet's fleet file (envoy/fleet.docker.yaml) lists the replicas by IP, and
 docker-compose.yml pins each service's IP on its network to make those IPs stable.
 \`envoy --mode validate\` does not resolve these names, so validation passes anywhere.`;

function get(node: unknown, key: string): unknown {
  return isMap(node) ? node.get(key, true) : undefined;
}

function setAddress(sa: YAMLMap, address: string, comment?: string): void {
  sa.set('address', address);
  if (comment !== undefined) sa.comment = comment;
}

export function dockerVariant(source: string): string {
  const doc: Document = parseDocument(source);
  doc.commentBefore = HEADER;
  const contents = doc.contents;
  // envoy.yaml's own header (on its first key) describes the local setup: replaced by HEADER.
  const first = isMap(contents) ? contents.items[0] : undefined;
  if (first !== undefined && isScalar(first.key)) first.key.commentBefore = undefined;
  visit(doc, {
    Pair(_, pair) {
      if (!isScalar(pair.key) || !isScalar(pair.value)) return;
      const v = pair.value.value;
      if (typeof v === 'string' && v.startsWith('envoy/demo/')) pair.value.value = `/etc/${v}`;
    },
  });
  const admin = get(get(get(contents, 'admin'), 'address'), 'socket_address');
  if (isMap(admin)) setAddress(admin, '0.0.0.0', ' 0.0.0.0 in the container: compose publishes it on the host loopback only');
  const sr = get(contents, 'static_resources');
  const listeners = get(sr, 'listeners');
  if (isSeq(listeners))
    for (const l of listeners.items) {
      const sa = get(get(l, 'address'), 'socket_address');
      if (isMap(sa)) setAddress(sa, '0.0.0.0', ' 0.0.0.0 in the container: compose publishes it on the host loopback only');
    }
  const clusters = get(sr, 'clusters');
  if (isSeq(clusters)) {
    for (const c of clusters.items) {
      if (!isMap(c)) continue;
      if (c.get('type') === 'STATIC') {
        c.set('type', 'STRICT_DNS');
        const typeNode = c.get('type', true);
        if (isScalar(typeNode)) typeNode.comment = ' compose service name (see the header)';
      }
      if (c.get('dns_lookup_family') === undefined) c.set('dns_lookup_family', 'V4_ONLY');
      visit(c, {
        Map(_, m) {
          const sa = m.get('socket_address', true);
          if (!isMap(sa)) return;
          const port = sa.get('port_value');
          const service = typeof port === 'number' ? DOCKER_SERVICES[port] : undefined;
          if (service !== undefined) setAddress(sa, service);
        },
      });
    }
  }
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

/** The IPs docker-compose.yml pins for the replica services. */
export const DOCKER_IPS: Readonly<Record<string, string>> = { 'sim-llama': '172.28.0.31', 'sim-qwen': '172.28.0.32' };

const FLEET_HEADER = ` kvfleet fleet file for docker-compose.yml (mounted at /etc/kvfleet/fleet.yaml).

 GENERATED from examples/fleet.yaml by \`npm run render:docker-envoy\` (src/tools/envoy/docker-variant.ts):
 edit that file, then render. The same fleet; only addresses and the state backend differ: kvfleet
 listens on 0.0.0.0 inside its container (Envoy reaches both instances as kvfleet:9002), endpoints
 are the replicas' IPs pinned in docker-compose.yml, because Envoy's override_host policy matches
 the RESOLVED ip:port of the STRICT_DNS hosts in envoy/envoy.docker.yaml, never the service names,
 and the two kvfleet instances share their state in the compose Redis.`;

export function dockerFleet(source: string): string {
  const doc: Document = parseDocument(source);
  doc.commentBefore = FLEET_HEADER;
  const contents = doc.contents;
  const first = isMap(contents) ? contents.items[0] : undefined;
  if (first !== undefined && isScalar(first.key)) first.key.commentBefore = undefined;
  for (const side of ['grpc', 'admin']) {
    const l = get(get(contents, 'server'), side);
    if (isMap(l)) l.set('host', '0.0.0.0');
  }
  // Two instances, one truth: budgets, limits, pins, cooldowns and circuits in the compose Redis.
  if (isMap(contents)) contents.set('state', doc.createNode({ backend: 'redis', redis: { url: 'redis://redis:6379/0' } }));
  const models = get(contents, 'models');
  if (isSeq(models)) {
    for (const m of models.items) {
      const eps = get(m, 'endpoints');
      if (!isSeq(eps)) continue;
      for (const e of eps.items) {
        if (!isScalar(e) || typeof e.value !== 'string') continue;
        const port = Number(e.value.split(':').at(-1));
        const service = DOCKER_SERVICES[port];
        const ip = service !== undefined ? DOCKER_IPS[service] : undefined;
        if (ip === undefined) throw new Error(`examples/fleet.yaml: endpoint ${e.value} has no compose service`);
        e.value = `${ip}:${port}`;
        e.comment = ` ${service}`;
      }
    }
  }
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

/** `node dist/tools/envoy/docker-variant.js`: write envoy/envoy.docker.yaml and envoy/fleet.docker.yaml. */
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const envoy = join(root, 'envoy', 'envoy.docker.yaml');
  writeFileSync(envoy, dockerVariant(readFileSync(join(root, 'envoy', 'envoy.yaml'), 'utf8')));
  const fleet = join(root, 'envoy', 'fleet.docker.yaml');
  writeFileSync(fleet, dockerFleet(readFileSync(join(root, 'examples', 'fleet.yaml'), 'utf8')));
  process.stdout.write(`wrote ${envoy}\nwrote ${fleet}\n`);
}
