// Pieces of `kvfleet bench overhead` that can be checked without a socket or a clock:
//   floor        answers the same phases as kvfleet in the mode Envoy announces (full duplex:
//                nothing until the body is complete, then the headers answer with kvfleet-shaped
//                metadata and the body streamed back; buffered: CONTINUE, then the body answer),
//                and sinks the access log without decoding it
//   bootstraps   kvfleet / floor in both modes (shipped full duplex by default), the floor with
//                the response phase, and plain without ext_proc, gRPC access loggers or the
//                kvfleet cluster; all pass `envoy --mode validate`
//   accounting   /proc parsing and background = busy − ours
//   load         the h2load plan (serial, staggered open loop) and its log parsing
//   report       ratios to the floor, PASS / FAIL / n/a against the targets, background flags
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { EXPLANATION_HEADERS } from '../../src/extproc/explain-metadata.js';
import { DESTINATION_KEY, LB_NAMESPACE } from '../../src/extproc/mutations.js';
import type { ProcessingResponse, ProtoStruct } from '../../src/extproc/proto-types.js';
import { loadAccessLogService } from '../../src/accesslog/proto.js';
import { BENCH_CLUSTER, benchBootstrap, type BootstrapOptions } from '../../src/tools/bench/envoy-bootstrap.js';
import { ACCESS_LOG_SINK, floorStream } from '../../src/tools/bench/floor-processor.js';
import { h2loadPlan, parseH2loadLog, resultOfRecords, shapeRequests } from '../../src/tools/bench/load-gen.js';
import {
  backgroundWarnings,
  comparisons,
  overheadMarkdown,
  overheadText,
  responseRows,
  targetRows,
  verdict,
  verdictCounts,
  type OverheadRun,
  type VariantName,
  type VariantResult,
} from '../../src/tools/bench/overhead-report.js';
import { cpuWindow, parsePidStat, parseProcStat, type CpuSnapshot } from '../../src/tools/bench/proc-cpu.js';
import { forEachProcessingMode } from '../../src/tools/envoy/processing-mode.js';
import { locateEnvoy } from '../../src/tools/envoy/locate.js';
import { REPO_ROOT } from '../helpers/envoy.js';
import { setHeaders } from '../helpers/exchange.js';

const kvfleetNs = (md: ProtoStruct | undefined) => md?.fields?.['kvfleet']?.structValue?.fields ?? {};

describe('floor processor', () => {
  const duplexHeaders = { request_headers: { end_of_stream: false }, protocol_config: { request_body_mode: 'FULL_DUPLEX_STREAMED' as const } };
  const bufferedHeaders = { request_headers: { end_of_stream: false }, protocol_config: { request_body_mode: 'BUFFERED' as const } };
  const streamedBack = (out: readonly ProcessingResponse[]) =>
    Buffer.concat(
      out.flatMap((r) =>
        r.request_body?.response.body_mutation?.streamed_response?.body !== undefined ? [r.request_body.response.body_mutation.streamed_response.body] : [],
      ),
    );

  it('full duplex: nothing until the body is complete, then the headers answer (route + kvfleet metadata) and the body back', () => {
    const s = floorStream(BENCH_CLUSTER);
    expect(s(duplexHeaders)).toEqual([]);
    expect(s({ request_body: { body: Buffer.from('{"a":'), end_of_stream: false } })).toEqual([]);
    const out = s({ request_body: { body: Buffer.from('1}'), end_of_stream: true } });
    expect(out).toHaveLength(2);
    const headers = out[0] as ProcessingResponse;
    expect(Object.keys(headers).sort()).toEqual(['dynamic_metadata', 'request_headers']);
    expect(headers.request_headers?.response.clear_route_cache).toBe(true);
    expect(setHeaders(headers.request_headers?.response.header_mutation?.set_headers)).toEqual({ 'x-kvfleet-cluster': BENCH_CLUSTER });
    // No endpoint list: the pool's round robin picks.
    expect(headers.dynamic_metadata?.fields?.[LB_NAMESPACE]).toBeUndefined();
    expect(JSON.stringify(headers)).not.toContain(DESTINATION_KEY);
    expect(streamedBack(out).toString()).toBe('{"a":1}');
    expect(out[1]?.request_body?.response.body_mutation?.streamed_response?.end_of_stream).toBe(true);
    // Nothing more on the trailers or late chunks.
    expect(s({ request_trailers: {} })).toEqual([]);
    expect(s({ request_body: { body: Buffer.from('x'), end_of_stream: true } })).toEqual([]);
  });

  it('full duplex: the kvfleet metadata has the field names of kvfleet’s explanation, with short constants', () => {
    const out = floorStream(BENCH_CLUSTER)(duplexHeaders);
    expect(out).toEqual([]);
    const s = floorStream(BENCH_CLUSTER);
    s(duplexHeaders);
    const ns = kvfleetNs(s({ request_body: { body: Buffer.from('{}'), end_of_stream: true } })[0]?.dynamic_metadata);
    // Every field kvfleet writes for a routed request of the bench fleet (no tenant, no budget, no response cache).
    const optional = new Set(['tenant', 'budget_remaining', 'cache']);
    const expected = [...Object.values(EXPLANATION_HEADERS).filter((f) => !optional.has(f)), 'key'].sort();
    expect(Object.keys(ns).sort()).toEqual(expected);
    for (const v of Object.values(ns)) {
      expect(typeof v.stringValue).toBe('string');
      expect((v.stringValue ?? '').length).toBeLessThanOrEqual(16);
    }
  });

  it('full duplex: a large body goes back in chunks of at most 64 KiB, the last one ending the stream', () => {
    const s = floorStream(BENCH_CLUSTER);
    s(duplexHeaders);
    const body = Buffer.alloc(150 * 1024, 'a');
    expect(s({ request_body: { body: body.subarray(0, 100_000), end_of_stream: false } })).toEqual([]);
    const out = s({ request_body: { body: body.subarray(100_000), end_of_stream: true } });
    const chunks = out.slice(1).map((r) => r.request_body?.response.body_mutation?.streamed_response);
    expect(chunks.map((c) => c?.body?.length)).toEqual([65536, 65536, 150 * 1024 - 131072]);
    expect(chunks.map((c) => c?.end_of_stream)).toEqual([false, false, true]);
    expect(streamedBack(out).equals(body)).toBe(true);
  });

  it('full duplex: trailers before the end of the body complete it (body back without end_of_stream, then the trailers answer)', () => {
    const s = floorStream(BENCH_CLUSTER);
    s(duplexHeaders);
    s({ request_body: { body: Buffer.from('{}'), end_of_stream: false } });
    const out = s({ request_trailers: {} });
    expect(out.map((r) => Object.keys(r).filter((k) => k !== 'dynamic_metadata')[0])).toEqual(['request_headers', 'request_body', 'request_trailers']);
    expect(out[1]?.request_body?.response.body_mutation?.streamed_response?.end_of_stream).toBe(false);
  });

  it('full duplex: a request without a body gets the headers answer at once', () => {
    const out = floorStream(BENCH_CLUSTER)({ ...duplexHeaders, request_headers: { end_of_stream: true } });
    expect(out).toHaveLength(1);
    expect(out[0]?.request_headers?.response.clear_route_cache).toBe(true);
  });

  for (const [what, first] of [
    ['buffered (announced)', bufferedHeaders],
    ['buffered (nothing announced)', { request_headers: {} }],
  ] as const) {
    it(`${what}: CONTINUE on the headers, the route and metadata on the body`, () => {
      const s = floorStream(BENCH_CLUSTER);
      expect(s(first)).toEqual([{ request_headers: { response: { status: 'CONTINUE' } } }]);
      const out = s({ request_body: { body: Buffer.from('{}'), end_of_stream: true } });
      expect(out).toHaveLength(1);
      expect(out[0]?.request_body?.response.clear_route_cache).toBe(true);
      expect(out[0]?.request_body?.response.body_mutation).toBeUndefined();
      expect(setHeaders(out[0]?.request_body?.response.header_mutation?.set_headers)).toEqual({ 'x-kvfleet-cluster': BENCH_CLUSTER });
      expect(Object.keys(kvfleetNs(out[0]?.dynamic_metadata))).toContain('request_id');
      expect(s({ request_trailers: {} })).toEqual([{ request_trailers: {} }]);
    });
  }

  it('answers response phases (only sent when a bootstrap asks) with their own kind', () => {
    const s = floorStream(BENCH_CLUSTER);
    s(duplexHeaders);
    expect(s({ response_headers: {} })).toEqual([{ response_headers: { response: { status: 'CONTINUE' } } }]);
    expect(Object.keys(s({ response_body: {} })[0] ?? {})).toEqual(['response_body']);
    expect(s({ response_trailers: {} })).toEqual([{ response_trailers: {} }]);
  });

  it('serves StreamAccessLogs at the access log service’s path and never decodes a message', () => {
    const method = ACCESS_LOG_SINK['StreamAccessLogs'];
    expect(method?.path).toBe(loadAccessLogService()['StreamAccessLogs']?.path);
    expect(method?.requestStream).toBe(true);
    expect(method?.responseStream).toBe(false);
    const raw = Buffer.from([0x0a, 0xff, 0x00]);
    expect(method?.requestDeserialize(raw)).toBe(raw);
    expect(method?.responseSerialize(Buffer.from('x'))).toHaveLength(0);
  });
});

describe('bench bootstraps', () => {
  const source = readFileSync(join(REPO_ROOT, 'envoy', 'envoy.yaml'), 'utf8');
  const ports = { listener: 10001, admin: 10002, kvfleet: 10003 };
  const scratch = mkdtempSync(join(tmpdir(), 'kvfleet-bench-bootstrap-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  const modeOf = (yaml: string): Record<string, unknown> | undefined => {
    const modes: Array<Record<string, unknown>> = [];
    forEachProcessingMode(parse(yaml), (pm) => modes.push(pm));
    return modes[0];
  };
  const grpcLoggers = (yaml: string) => (yaml.match(/envoy\.access_loggers\.http_grpc/g) ?? []).length;
  const clusters = (yaml: string) => (parse(yaml) as { static_resources: { clusters: Array<{ name: string }> } }).static_resources.clusters.map((c) => c.name);
  const cases: Array<[string, 'kvfleet' | 'plain', BootstrapOptions]> = [
    ['kvfleet (shipped mode)', 'kvfleet', {}],
    ['kvfleet full-duplex', 'kvfleet', { mode: 'full-duplex' }],
    ['kvfleet buffered', 'kvfleet', { mode: 'buffered' }],
    ['floor full-duplex +response', 'kvfleet', { mode: 'full-duplex', responsePhase: true }],
    ['plain', 'plain', {}],
  ];

  it('follows the shipped full-duplex mode unless asked, and switches to buffered when asked', () => {
    expect(modeOf(benchBootstrap(source, 'kvfleet', ports, [9]))).toMatchObject({
      request_body_mode: 'FULL_DUPLEX_STREAMED',
      request_trailer_mode: 'SEND',
      response_header_mode: 'SKIP',
    });
    expect(modeOf(benchBootstrap(source, 'kvfleet', ports, [9], { mode: 'full-duplex' }))).toMatchObject({ request_body_mode: 'FULL_DUPLEX_STREAMED' });
    expect(modeOf(benchBootstrap(source, 'kvfleet', ports, [9], { mode: 'buffered' }))).toMatchObject({
      request_body_mode: 'BUFFERED',
      request_trailer_mode: 'SKIP',
      response_header_mode: 'SKIP',
    });
    expect(modeOf(benchBootstrap(source, 'kvfleet', ports, [9], { mode: 'full-duplex', responsePhase: true }))).toMatchObject({
      request_body_mode: 'FULL_DUPLEX_STREAMED',
      response_header_mode: 'SEND',
    });
  });

  it('kvfleet keeps the gRPC access log (HCM and upstream) to the processor; plain drops it with ext_proc and the kvfleet cluster', () => {
    const kv = benchBootstrap(source, 'kvfleet', ports, [9, 8]);
    expect(grpcLoggers(kv)).toBeGreaterThanOrEqual(2);
    expect(kv).toContain('upstream_log');
    // Every connection to the processor (kvfleet's, the meter's when shipped) points at it; the pools are pool-bench.
    const processorClusters = clusters(source).filter((n) => !n.startsWith('pool-'));
    expect(processorClusters).toContain('kvfleet');
    expect(clusters(kv)).toEqual([...processorClusters, BENCH_CLUSTER]);
    expect(kv).not.toContain(String(9002));
    const plain = benchBootstrap(source, 'plain', ports, [9, 8], { mode: 'buffered', responsePhase: true });
    expect(modeOf(plain)).toBeUndefined();
    expect(grpcLoggers(plain)).toBe(0);
    expect(plain).not.toContain('upstream_log');
    expect(plain).toContain('envoy.access_loggers.stdout');
    expect(plain).not.toContain('ExternalProcessor');
    expect([...plain.matchAll(/cluster_name: (\S+)/g)].map((m) => m[1])).toEqual([BENCH_CLUSTER]);
    expect(clusters(plain)).toEqual([BENCH_CLUSTER]);
  });

  it('keeps only the catch-all route (any path, no header condition); plain sends it to pool-bench directly', () => {
    type Route = { match: Record<string, unknown>; route: Record<string, unknown> };
    const routesOf = (yaml: string) =>
      (
        parse(yaml) as {
          static_resources: {
            listeners: Array<{ filter_chains: Array<{ filters: Array<{ typed_config: { route_config: { virtual_hosts: Array<{ routes: Route[] }> } } }> }> }>;
          };
        }
      ).static_resources.listeners[0]?.filter_chains[0]?.filters[0]?.typed_config.route_config.virtual_hosts[0]?.routes ?? [];
    const kv = routesOf(benchBootstrap(source, 'kvfleet', ports, [9]));
    expect(kv).toHaveLength(1);
    expect(kv[0]?.match).toEqual({ prefix: '/' });
    expect(kv[0]?.route['cluster_header']).toBe('x-kvfleet-cluster');
    const plain = routesOf(benchBootstrap(source, 'plain', ports, [9]));
    expect(plain[0]?.route['cluster']).toBe(BENCH_CLUSTER);
    expect(plain[0]?.route['cluster_header']).toBeUndefined();
  });

  it('every variant passes `envoy --mode validate` (run `bash scripts/setup-envoy.sh` if Envoy is missing)', () => {
    const bin = locateEnvoy(REPO_ROOT);
    expect(bin, 'no Envoy binary: run `bash scripts/setup-envoy.sh`').toBeDefined();
    for (const [name, variant, opts] of cases) {
      const file = join(scratch, `${name.replaceAll(/\W+/g, '-')}.yaml`);
      writeFileSync(file, benchBootstrap(source, variant, ports, [9, 8], opts));
      const r = spawnSync(bin as string, ['--mode', 'validate', '-c', file, '-l', 'error'], { encoding: 'utf8', timeout: 60_000, cwd: REPO_ROOT });
      expect(r.status, `${name}: ${r.stdout}${r.stderr}`).toBe(0);
    }
  }, 120_000);
});

describe('CPU accounting from /proc', () => {
  it('parses /proc/stat (busy without idle and iowait) and a process stat whose command holds spaces and parentheses', () => {
    expect(parseProcStat('cpu  100 5 50 800 20 3 2 1 0 0\ncpu0 1 2 3 4\n')).toEqual({ busy: 161, total: 981 });
    const stat = '4242 (node (my) bench) S 1 2 3 4 5 6 7 8 9 10 250 40 7 3 20 0 1 0';
    expect(parsePidStat(stat)).toEqual({ own: 290, children: 10 });
  });

  it('background = the machine’s busy ticks − ours (watched pids, this process, reaped children), never below zero', () => {
    const a: CpuSnapshot = { at: 0, machine: { busy: 1000, total: 5000 }, pids: new Map([[7, 100]]), self: 50, children: 10 };
    const b: CpuSnapshot = { at: 1000, machine: { busy: 1100, total: 5200 }, pids: new Map([[7, 140]]), self: 70, children: 20 };
    const w = cpuWindow(a, b);
    expect(w.busyShare).toBeCloseTo(0.5);
    expect(w.oursShare).toBeCloseTo(70 / 200);
    expect(w.backgroundShare).toBeCloseTo(30 / 200);
    expect(w.pidSeconds.get(7)).toBeCloseTo(0.4);
    expect(w.childrenSeconds).toBeCloseTo(0.1);
    const quiet = cpuWindow(a, { ...b, machine: { busy: 1050, total: 5200 } });
    expect(quiet.backgroundShare).toBe(0);
    expect(cpuWindow({ ...a, machine: undefined }, b).backgroundShare).toBeUndefined();
  });
});

describe('load generators', () => {
  it('h2load serial: one process, one connection, the requests back to back', () => {
    const plan = h2loadPlan('http://x/v1/chat/completions', '/b.json', '/tmp/l', { kind: 'serial', requests: 500 });
    expect(plan).toHaveLength(1);
    expect(plan[0]?.args).toEqual(expect.arrayContaining(['--h1', '-c', '1', '-n', '500', '-d', '/b.json', '--log-file', '/tmp/l-0.tsv']));
    expect(plan[0]?.args).not.toContain('--rps');
  });

  it('h2load open loop: ⌈rate / 20⌉ one-connection processes at rate / processes each, started 1 / rate apart', () => {
    const shape = { kind: 'open', rate: 200, seconds: 10 } as const;
    const plan = h2loadPlan('http://x/', '/b.json', '/tmp/l', shape);
    expect(plan).toHaveLength(10);
    expect(plan.map((p) => p.delayMs)).toEqual([0, 5, 10, 15, 20, 25, 30, 35, 40, 45]);
    const arg = (p: (typeof plan)[number], k: string) => p.args[p.args.indexOf(k) + 1];
    expect(plan.every((p) => arg(p, '--rps') === '20' && arg(p, '-c') === '1')).toBe(true);
    expect(plan.reduce((n, p) => n + Number(arg(p, '-n')), 0)).toBe(shapeRequests(shape));
    const odd = h2loadPlan('http://x/', '/b.json', '/tmp/l', { kind: 'open', rate: 30, seconds: 1.5 });
    expect(odd.map((p) => Number(arg(p, '-n')))).toEqual([23, 22]);
    expect(new Set(odd.map((p) => p.logFile)).size).toBe(2);
  });

  it('h2load log: latencies of the 200s in ms; other statuses and requests never logged are errors', () => {
    const r = parseH2loadLog('1700000000000000\t200\t1500\n1700000000001000\t200\t2500\n1700000000002000\t503\t900\n\n', 4);
    expect(r.latenciesMs).toEqual([1.5, 2.5]);
    expect(r.ok).toBe(2);
    expect(r.errors).toBe(2);
    expect(r.statuses).toEqual({ '200': 2, '503': 1, none: 1 });
    expect(
      resultOfRecords([
        [200, 1],
        [0, 10_000],
        [200, 3],
      ]),
    ).toEqual({ latenciesMs: [1, 3], ok: 2, errors: 1, statuses: { '200': 2, '0': 1 } });
  });
});

describe('overhead report', () => {
  const v = (variant: VariantName, p50: number, p99: number, cpu: number | undefined, bg = 0.02, bgMax = 0.04): VariantResult => ({
    variant,
    ok: 1000,
    errors: 0,
    p50,
    p99,
    addedP50Ms: variant === 'plain' ? undefined : p50 - 1,
    addedP99Ms: variant === 'plain' ? undefined : p99 - 4,
    processorCpuPer1000: cpu,
    envoyCpuPer1000: 0.4,
    clientCpuPer1000: 0.05,
    decisionUsMean: variant.startsWith('kvfleet') ? 120 : undefined,
    backgroundShare: bg,
    backgroundMaxShare: bgMax,
    busyShare: 0.3,
  });
  const run: OverheadRun = {
    tool: 'h2load',
    nproc: 2,
    idleBackgroundShare: 0.01,
    cells: [
      {
        sizeKb: 4,
        load: { kind: 'serial', requests: 1000 },
        discardedPhases: 1,
        variants: [
          v('plain', 1, 4, undefined),
          // added p50 2.0 vs 2.0 (1.00×), p99 7 vs 4 (1.75×), CPU 1.1 vs 1.0
          v('kvfleet full-duplex', 3, 11, 1.1),
          v('floor full-duplex', 3, 8, 1.0),
          v('floor full-duplex +response', 4, 9, 1.2),
          // the floor added nothing at p50: n/a; p99 2 vs 1 (2×), CPU 2×
          v('kvfleet buffered', 1.5, 6, 2.0, 0.12, 0.2),
          v('floor buffered', 0.9, 5, 1.0),
        ],
      },
    ],
  };

  it('compares kvfleet with the floor of the same mode and judges each target', () => {
    const [fd, buf] = comparisons(run);
    expect(fd?.mode).toBe('full-duplex');
    expect(fd?.p50Ratio).toBeCloseTo(1);
    expect(fd?.p99Ratio).toBeCloseTo(1.75);
    expect(fd?.cpuRatio).toBeCloseTo(1.1);
    expect([fd?.p50Verdict, fd?.p99Verdict, fd?.cpuVerdict]).toEqual(['PASS', 'FAIL', 'PASS']);
    expect(buf?.mode).toBe('buffered');
    expect(buf?.p50Verdict).toBe('n/a');
    expect(buf?.cpuVerdict).toBe('FAIL');
    expect(buf?.backgroundMaxShare).toBeCloseTo(0.2);
    expect(verdictCounts(comparisons(run))).toEqual({ PASS: 2, FAIL: 3, 'n/a': 1 });
  });

  it('limits are inclusive; unknown ratios are n/a', () => {
    expect(verdict(1.1, 1.1)).toBe('PASS');
    expect(verdict(1.1000001, 1.1)).toBe('FAIL');
    expect(verdict(Number.NaN, 1.1)).toBe('n/a');
  });

  it('prints the background CPU on every row and flags and warns above 10 %', () => {
    const rows = targetRows(comparisons(run));
    expect(rows[0]?.at(-1)).toBe('2.0 / 4.0');
    expect(rows[1]?.at(-1)).toBe('12.0 / 20.0 ⚠');
    expect(rows[0]?.[6]).toBe('1.00× PASS');
    expect(rows[1]?.[6]).toBe('n/a');
    expect(backgroundWarnings(run)).toEqual(['WARNING: 4 KB serial: background CPU up to 20.0 % of the machine in a phase — figures from a busy machine']);
    const text = overheadText(run);
    expect(text).toContain('Load generator: h2load');
    expect(text).toContain('phases discarded and measured again for background CPU above 10 %: 1');
    expect(text).toContain('Targets: 2 PASS, 3 FAIL, 1 n/a');
    const md = overheadMarkdown(run, 'DESCRIPTION');
    expect(md.startsWith('DESCRIPTION\n')).toBe(true);
    expect(md).toContain('| 4 KB | serial | full-duplex |');
    expect(md).toContain('**WARNING: 4 KB serial');
  });

  it('compares the floor without and with the response phase', () => {
    const [row] = responseRows(run);
    // added p50 2 ms skipped vs 3 ms sent: −33 %; E2E p50 3 vs 4: −25 %
    expect(row?.slice(2, 6)).toEqual(['2.00 / 3.00', '−33 %', '3.00 / 4.00', '−25 %']);
  });
});
