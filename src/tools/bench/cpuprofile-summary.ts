// Summary of a V8 .cpuprofile (`node --cpu-prof`) for the hot-path profile (hotpath-profile.ts):
// self time by area (gRPC, protobuf, access log, body parse, decide, logging, metrics, …) and
// by function, and inclusive time of kvfleet's own functions. A sample's area is its leaf
// frame's, or, for a frame without a script (a V8 builtin such as JSON.parse), the nearest
// caller's that has one. Samples before the first one inside a gRPC call (grpc-js's server
// interceptors) are start-up (module loading, proto parsing) and counted apart. Pure: takes the parsed profile, returns plain data.

export interface CpuProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number; readonly columnNumber?: number };
  readonly children?: readonly number[];
}

export interface CpuProfile {
  readonly nodes: readonly CpuProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

export interface Share {
  readonly name: string;
  readonly ms: number;
  readonly share: number;
}

export interface ProfileSummary {
  /** Sampled time, ms, idle excluded. */
  readonly busyMs: number;
  readonly idleMs: number;
  /** Before the first ext_proc message was handled. */
  readonly startupMs: number;
  readonly areas: readonly Share[];
  readonly functions: readonly Share[];
  readonly inclusive: readonly Share[];
}

const AREAS: ReadonlyArray<readonly [RegExp, string]> = [
  [/node_modules\/@grpc\/grpc-js\//, 'grpc-js'],
  [/node_modules\/(protobufjs|@protobufjs|@grpc\/proto-loader)\//, 'protobufjs'],
  [/node_modules\/(pino|sonic-boom|thread-stream|pino-std-serializers|fast-redact|quick-format-unescaped|atomic-sleep|on-exit-leak-free)\//, 'logging (pino)'],
  [/node_modules\/(prom-client|tdigest|bintrees)\//, 'metrics (prom-client)'],
  [/node_modules\/xxhash-wasm\/|^wasm:/, 'xxhash'],
  [/node_modules\/(zod|yaml)\//, 'zod / yaml'],
  [/node_modules\//, 'other dependencies'],
  [/\/(src|dist)\/accesslog\//, 'access log (kvfleet)'],
  [/\/(src|dist)\/extproc\/body\//, 'ext_proc body (kvfleet)'],
  [/\/(src|dist)\/extproc\//, 'ext_proc exchange (kvfleet)'],
  [/\/(src|dist)\/request\//, 'request parse (kvfleet)'],
  [/\/(src|dist)\/core\/(fingerprint|hash)/, 'fingerprint / hash (kvfleet)'],
  [/\/(src|dist)\/core\//, 'decide (kvfleet core)'],
  [/\/(src|dist)\/router\//, 'router (kvfleet)'],
  [/\/(src|dist)\/obs\//, 'obs (kvfleet)'],
  [/\/(src|dist)\/fleet\//, 'fleet: scrape / learn (kvfleet)'],
  [/\/(src|dist)\//, 'other kvfleet'],
  [/^node:internal\/http2\//, 'node http2'],
  [/^node:(internal\/)?(streams|stream)/, 'node streams'],
  [/^node:(net|internal\/stream_base_commons|internal\/net)/, 'node net'],
  [/^node:(internal\/)?timers/, 'node timers'],
  [/^node:(_http|http|internal\/http)/, 'node http/1 (scrapes, admin)'],
  [/^node:internal\/(deps\/undici|fetch)|undici/, 'node fetch (scrapes)'],
  [/^node:internal\/(process\/task_queues|async_hooks)|^node:events|^node:internal\/event_target/, 'node events / microtasks'],
  [/^node:/, 'node other'],
];

const SPECIAL: Readonly<Record<string, string>> = {
  '(garbage collector)': 'GC',
  '(program)': 'V8 / native (program)',
  '(idle)': 'idle',
  '(root)': 'V8 / native (program)',
};

function areaOfUrl(url: string): string | undefined {
  if (url === '') return undefined;
  for (const [re, name] of AREAS) if (re.test(url)) return name;
  return 'other';
}

const top = (m: Map<string, number>, total: number, n: number): Share[] =>
  [...m.entries()]
    .sort((x, y) => y[1] - x[1])
    .slice(0, n)
    .map(([name, us]) => ({ name, ms: us / 1000, share: total > 0 ? us / total : 0 }));

export function summariseProfile(p: CpuProfile, topN = 30): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const areaCache = new Map<number, string>();
  const areaOf = (id: number): string => {
    const cached = areaCache.get(id);
    if (cached !== undefined) return cached;
    const n = byId.get(id);
    let area: string;
    if (n === undefined) area = 'other';
    else {
      const special =
        SPECIAL[n.callFrame.functionName] ??
        (/\$(decode|encode|fromObject|toObject)$/.test(n.callFrame.functionName) ? 'protobufjs (generated codecs)' : undefined);
      const own = areaOfUrl(n.callFrame.url);
      const up = parent.get(id);
      area = special ?? own ?? (up !== undefined ? areaOf(up) : 'V8 / native (program)');
    }
    areaCache.set(id, area);
    return area;
  };
  const label = (n: CpuProfileNode): string => {
    const f = n.callFrame;
    const file = f.url.includes('node_modules/') ? f.url.replace(/^.*node_modules\//, '') : f.url.replace(/^.*\/dist\//, 'dist/');
    return `${f.functionName || '(anonymous)'} ${file === '' ? '[native]' : `${file}:${f.lineNumber + 1}`}`;
  };
  const inStream = (id: number): boolean => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at))
      if (/@grpc\/grpc-js\/build\/src\/server-interceptors\.js$/.test(byId.get(at)?.callFrame.url ?? '')) return true;
    return false;
  };
  let started = false;
  let startup = 0;
  const areas = new Map<string, number>();
  const fns = new Map<string, number>();
  const incl = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    const area = areaOf(id);
    if (!started && area !== 'idle') started = inStream(id);
    if (!started) {
      startup += area === 'idle' ? 0 : dt;
      return;
    }
    if (area === 'idle') {
      idle += dt;
      return;
    }
    busy += dt;
    areas.set(area, (areas.get(area) ?? 0) + dt);
    const n = byId.get(id);
    if (n !== undefined) {
      const k = `${label(n)}  (${area})`;
      fns.set(k, (fns.get(k) ?? 0) + dt);
    }
    // Inclusive time of kvfleet's own functions: each counted once per sample.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const m = byId.get(at);
      if (m === undefined || !/\/dist\//.test(m.callFrame.url) || m.callFrame.url.includes('node_modules')) continue;
      const k = label(m);
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + dt);
    }
  });
  return {
    busyMs: busy / 1000,
    idleMs: idle / 1000,
    startupMs: startup / 1000,
    areas: top(areas, busy, 100),
    functions: top(fns, busy, topN),
    inclusive: top(incl, busy, topN),
  };
}

export function formatSummary(s: ProfileSummary): string {
  const row = (x: Share) => `${(x.share * 100).toFixed(1).padStart(5)} %  ${x.ms.toFixed(0).padStart(7)} ms  ${x.name}`;
  return [
    `busy ${s.busyMs.toFixed(0)} ms sampled (idle ${s.idleMs.toFixed(0)} ms; start-up ${s.startupMs.toFixed(0)} ms left out)`,
    '',
    'self time by area:',
    ...s.areas.map(row),
    '',
    'self time by function:',
    ...s.functions.map(row),
    '',
    "inclusive time of kvfleet's functions:",
    ...s.inclusive.map(row),
  ].join('\n');
}
