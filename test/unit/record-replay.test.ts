// record: (router/recorder.ts, router/record-line.ts, obs/rotating-jsonl.ts) and `kvfleet
// replay` (tools/replay/): what a record line holds with and without prompts, rotation and the
// buffer cap, usage readings joined to their line, synthesis that keeps shared prefixes, the
// comparison maths, and the CLI's answer when the target is down.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { Fleet } from '../../src/config/fleet.js';
import { fingerprint, renderPrompt } from '../../src/core/fingerprint.js';
import { createLearnedState } from '../../src/core/learned/learned-state.js';
import { seededRng } from '../../src/core/rng.js';
import { isKvError } from '../../src/errors.js';
import { LiveEndpoints } from '../../src/fleet/live-endpoints.js';
import { RotatingJsonl } from '../../src/obs/rotating-jsonl.js';
import type { PromptSegment, RequestInput } from '../../src/request/types.js';
import { Recorder } from '../../src/router/recorder.js';
import { recordLine, renderFrom, type RecordLine } from '../../src/router/record-line.js';
import type { RequestReport } from '../../src/router/report.js';
import { Router } from '../../src/router/router.js';
import { affinityMatch, summarize, summarizeGroup, type ReplayResult } from '../../src/tools/replay/compare.js';
import { loadRecords, replayLineSchema, schedule, type ReplayLine } from '../../src/tools/replay/records.js';
import { usageIn } from '../../src/tools/replay/run.js';
import { replayRequest, synthSegments } from '../../src/tools/replay/synth.js';
import { chatInput } from '../helpers/core.js';
import { fleetFrom } from '../helpers/fleet.js';
import { parseFleet } from '../../src/config/load.js';

const FLEET = `
default_model: small
affinity: { block_tokens: 16, chars_per_token: 4 }
models:
  - name: small
    cluster: pool-small
    model_id: org/Small-1B
    endpoints: [10.0.0.1:8000, 10.0.0.2:8000]
    priors: { cost_per_1k_input: 0.5, cost_per_1k_output: 1.5 }
  - name: big
    cluster: pool-big
    model_id: org/Big-70B
    endpoints: [10.0.1.1:8000]
`;

/** Prose no record line may hold: every 8-character window of it is checked. */
const SECRET_SYSTEM = 'Quartermaster Ophelia guards the vermilion ledger of Zanzibar; recite nothing from it. '.repeat(6);
const SECRET_USER = 'Which porcupine delivered the marmalade parcel to Kilimanjaro last Thursday?';

function rig(fleet: Fleet = fleetFrom(FLEET)) {
  const clock = { t: 1000 };
  const reports: RequestReport[] = [];
  const live = new LiveEndpoints({ now: () => clock.t });
  const router = new Router({
    fleet: () => fleet,
    live,
    endpoints: live,
    state: createLearnedState(fleet, seededRng(1)),
    now: () => clock.t,
    report: (r) => reports.push(r),
  });
  let n = 0;
  /** Route and end one request; its report (or the refusal's, as the exchange would make it). */
  const send = (input: RequestInput, o: { sessionId?: string; status?: number } = {}): RequestReport => {
    const rid = `rid-${++n}`;
    const a = router.admit(rid, input, { sessionId: o.sessionId, overrides: { strategy: undefined, models: undefined, priority: undefined } }, clock.t);
    try {
      const routed = router.routeNow(a);
      clock.t += 5;
      router.finish(routed, {
        status: o.status ?? 200,
        served: routed.decision.endpoints[0],
        attempts: 1,
        ttfbMs: 42.25,
        durationMs: 310.5,
        headers: new Map(),
      });
    } catch (e) {
      if (!isKvError(e)) throw e;
      reports.push({
        requestId: rid,
        api: input.api,
        decision: undefined,
        tenant: undefined,
        admission: a,
        error: e,
        decisionUs: undefined,
        status: e.status,
        servedEndpoint: undefined,
        upstreamMs: undefined,
        stream: input.stream,
      });
    }
    return reports[reports.length - 1] as RequestReport;
  };
  return { fleet, clock, router, send };
}

const chat = (segments: PromptSegment[], extra: Partial<RequestInput> = {}): RequestInput =>
  chatInput(segments, {
    model: 'small',
    body: { model: 'small', messages: segments.map((s) => ({ role: s.role, content: s.text })), temperature: 0.3 },
    ...extra,
  });

const clockOf = (mono: number) => ({ wall: Date.UTC(2025, 0, 2, 3, 4, 5), mono, runStart: 0, run: 'run1' });

function windows(text: string, size = 8): string[] {
  const out: string[] = [];
  for (let i = 0; i + size <= text.length; i++) out.push(text.slice(i, i + size));
  return out;
}

async function tmp(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'kvfleet-record-'));
}

describe('record: in the fleet file', () => {
  it('is validated, every problem naming its field', () => {
    const r = parseFleet(`
models:
  - { name: a, cluster: c, model_id: a, endpoints: [10.0.0.1:8000] }
record: { path: '', max_files: 0, sample_rate: 2, max_file_mb: -1, bogus: 1 }
`);
    expect(r.ok).toBe(false);
    const problems = r.ok ? [] : r.problems;
    for (const f of ['record.path', 'record.max_file_mb', 'record.max_files', 'record.sample_rate', 'record: Unrecognized key: "bogus"'])
      expect(problems.some((p) => p.startsWith(f))).toBe(true);
  });

  it('has defaults: prompts off, 100 MiB × 5 files, every request, 8 MiB buffer', () => {
    const f = fleetFrom(`${FLEET}\nrecord: { path: /var/log/kvfleet/requests.jsonl }\n`);
    expect(f.file.record).toEqual({
      path: '/var/log/kvfleet/requests.jsonl',
      include_prompts: false,
      max_file_mb: 100,
      max_files: 5,
      sample_rate: 1,
      buffer_mb: 8,
    });
    expect(fleetFrom(FLEET).file.record).toBeUndefined();
  });
});

describe('record line', () => {
  const segments: PromptSegment[] = [
    { role: 'system', text: SECRET_SYSTEM },
    { role: 'user', text: SECRET_USER },
  ];

  it('holds the shape, block keys, decision and outcome, and no prompt text without include_prompts', () => {
    const { send, fleet } = rig();
    const r = send(chat(segments, { stream: true, maxOutputTokens: 64 }), { sessionId: 'alice-session-7' });
    const line = recordLine(r, clockOf(1100), false);
    const text = JSON.stringify(line);
    for (const w of [...windows(SECRET_SYSTEM), ...windows(SECRET_USER), 'alice-session-7']) expect(text).not.toContain(w);
    expect(line).toMatchObject({
      v: 1,
      rid: 'rid-1',
      api: 'chat',
      stream: true,
      model: 'small',
      chosen: 'small',
      messages: [
        ['system', SECRET_SYSTEM.length],
        ['user', SECRET_USER.length],
      ],
      prompt_chars: SECRET_SYSTEM.length + SECRET_USER.length,
      max_tokens: 64,
      temperature: 0.3,
      block_chars: 64,
      session_source: 'x-session-id',
      decision: { strategy: 'hybrid_score', priority: 'normal' },
      outcome: { status: 200, ttfb_ms: 42.3, total_ms: 310.5 },
    });
    expect(line.body).toBeUndefined();
    expect(line.session).toMatch(/^[0-9a-f]{13}$/);
    expect(line.decision?.endpoint).toBe(r.decision?.endpoints[0]);
    expect(line.decision?.reasons.length).toBeGreaterThan(0);
    expect(line.prompt_tokens).toBe(r.decision?.prompt.tokens);
    // The block keys are the fingerprint's unsalted chain: the same for any model.
    const fp = fingerprint(segments, SECRET_SYSTEM.length + SECRET_USER.length, fleet.affinity);
    expect(line.blocks).toEqual(Array.from(fp.chain, (k) => k.toString(16).padStart(13, '0')));
    expect(line.blocks?.length).toBe(Math.floor(fp.render.length / 64));
    expect(line.tail).toMatch(/^[0-9a-f]{13}$/);
    // Start time and offset from the Router's clock (the admission's start).
    expect(line.t_ms).toBe(1000);
    expect(line.ts).toBe(new Date(Date.UTC(2025, 0, 2, 3, 4, 5) - 100).toISOString());
    expect(replayLineSchema.safeParse(JSON.parse(text)).success).toBe(true);
  });

  it('renders the tail the way the fingerprint renders the prompt', () => {
    const full = renderPrompt(segments);
    for (const start of [
      0,
      1,
      5,
      11,
      12,
      SECRET_SYSTEM.length + 11,
      SECRET_SYSTEM.length + 12,
      SECRET_SYSTEM.length + 13,
      full.length - 1,
      full.length,
      full.length + 5,
    ])
      expect(renderFrom(segments, start)).toBe(full.slice(start));
  });

  it('keys do not depend on the model chosen (auto vs a named model)', () => {
    const { send } = rig();
    const a = recordLine(send(chat(segments)), clockOf(2000), false);
    const b = recordLine(send(chat(segments, { model: 'big' })), clockOf(2000), false);
    expect(b.chosen).toBe('big');
    expect(a.chosen).toBe('small');
    expect(b.blocks).toEqual(a.blocks);
    expect(b.tail).toBe(a.tail);
  });

  it('with include_prompts holds the body as routed', () => {
    const { send } = rig();
    const line = recordLine(send(chat(segments)), clockOf(1100), true);
    expect(JSON.stringify(line)).toContain(SECRET_USER);
    expect(line.body?.['messages']).toEqual([
      { role: 'system', content: SECRET_SYSTEM },
      { role: 'user', content: SECRET_USER },
    ]);
  });

  it('marks a refused request, keeps its shape and never its text (even with include_prompts)', () => {
    const { send } = rig();
    const r = send(chat(segments, { model: 'no-such-model' }));
    expect(r.error?.code).toBe('unknown_model');
    const line = recordLine(r, clockOf(1100), true);
    expect(line.refused).toEqual({ code: 'unknown_model', status: 404 });
    expect(line.decision).toBeUndefined();
    expect(line.body).toBeUndefined();
    expect(line.blocks?.length).toBeGreaterThan(0);
    for (const w of windows(SECRET_USER)) expect(JSON.stringify(line)).not.toContain(w);
  });
});

describe('rotating JSON Lines file', () => {
  it('rotates by size and keeps at most max_files files, the newest lines', async () => {
    const dir = await tmp();
    const path = join(dir, 'rec.jsonl');
    const w = await RotatingJsonl.open({ path, maxFileBytes: 1000, maxFiles: 3, maxBufferBytes: 1 << 20, flushMs: 5 });
    for (let i = 0; i < 100; i++) {
      expect(w.append(JSON.stringify({ i, pad: 'x'.repeat(80) }))).toBe(true);
      if (i % 7 === 0) await w.flush();
    }
    await w.close();
    expect((await readdir(dir)).sort()).toEqual(['rec.jsonl', 'rec.jsonl.1', 'rec.jsonl.2']);
    const seen: number[] = [];
    for (const f of ['rec.jsonl.2', 'rec.jsonl.1', 'rec.jsonl']) {
      expect((await stat(join(dir, f))).size).toBeLessThanOrEqual(1000);
      for (const l of (await readFile(join(dir, f), 'utf8')).trim().split('\n')) seen.push((JSON.parse(l) as { i: number }).i);
    }
    // Consecutive and ending with the last line: only the oldest files were dropped.
    expect(seen[seen.length - 1]).toBe(99);
    seen.forEach((v, k) => k > 0 && expect(v).toBe((seen[k - 1] as number) + 1));
    expect(seen.length).toBeLessThan(100);
    expect(w.stats.rotations).toBeGreaterThan(2);
    expect(w.stats.written).toBe(100);
  });

  it('max_files 1 starts the file again', async () => {
    const dir = await tmp();
    const path = join(dir, 'one.jsonl');
    const w = await RotatingJsonl.open({ path, maxFileBytes: 300, maxFiles: 1, maxBufferBytes: 1 << 20 });
    for (let i = 0; i < 10; i++) w.append(JSON.stringify({ i, pad: 'y'.repeat(80) }));
    await w.close();
    expect(await readdir(dir)).toEqual(['one.jsonl']);
    expect((await stat(path)).size).toBeLessThanOrEqual(300);
  });

  it('never holds more than its buffer: lines past it (and lines longer than a file) are dropped and counted', async () => {
    const dir = await tmp();
    const counted: Record<string, number> = {};
    const w = await RotatingJsonl.open({
      path: join(dir, 'b.jsonl'),
      maxFileBytes: 10_000,
      maxFiles: 2,
      maxBufferBytes: 1000,
      onCount: (r, n) => (counted[r] = (counted[r] ?? 0) + n),
    });
    let accepted = 0;
    for (let i = 0; i < 50; i++) if (w.append(JSON.stringify({ i, pad: 'z'.repeat(90) }))) accepted++;
    expect(w.pendingBytes).toBeLessThanOrEqual(1000);
    expect(accepted).toBeLessThan(50);
    expect(w.append('x'.repeat(20_000))).toBe(false);
    await w.close();
    expect(w.stats).toMatchObject({ written: accepted, dropped: 50 - accepted + 1 });
    expect(counted).toMatchObject({ written: accepted, dropped: 51 - accepted });
  });

  it('refuses to open a file in a directory that does not exist', async () => {
    await expect(RotatingJsonl.open({ path: '/nonexistent-dir-kvfleet/r.jsonl', maxFileBytes: 1000, maxFiles: 2, maxBufferBytes: 1000 })).rejects.toMatchObject(
      {
        code: 'ENOENT',
      },
    );
  });
});

describe('Recorder', () => {
  const cfg = (path: string, extra: Record<string, unknown> = {}) => ({
    path,
    include_prompts: false,
    max_file_mb: 1,
    max_files: 2,
    sample_rate: 1,
    buffer_mb: 1,
    ...extra,
  });
  const linesOf = async (path: string): Promise<RecordLine[]> =>
    (await readFile(path, 'utf8'))
      .trim()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as RecordLine);

  it('joins a metered request with its usage, whichever comes first', async () => {
    const dir = await tmp();
    const path = join(dir, 'r.jsonl');
    const clock = { t: 0 };
    const rec = await Recorder.open(cfg(path), { now: () => clock.t, flushMs: 5 });
    const { send } = rig();
    const r1 = { ...send(chat([{ role: 'user', text: 'one' }])), metered: true, key: 'k1' };
    const r2 = { ...send(chat([{ role: 'user', text: 'two' }])), metered: true, key: 'k2' };
    const r3 = { ...send(chat([{ role: 'user', text: 'three' }])), metered: true, key: 'k3' };
    rec.record(r1);
    rec.usage('k1', { prompt: 10, completion: 5, cached: 4, source: 'reported' });
    rec.usage('k2', { prompt: 20, completion: 6, cached: 0, source: 'counted' });
    rec.record(r2);
    rec.record(r3); // its reading never comes: written without usage after PARK_MS
    clock.t += 2500;
    rec.record(send(chat([{ role: 'user', text: 'four' }])));
    await rec.flush();
    const lines = await linesOf(path);
    expect(lines.map((l) => [l.rid, l.usage?.prompt])).toEqual([
      [r1.requestId, 10],
      [r2.requestId, 20],
      [r3.requestId, undefined],
      ['rid-4', undefined],
    ]);
    expect(lines[0]?.usage).toEqual({ prompt: 10, completion: 5, cached: 4, source: 'reported' });
    await rec.close();
  });

  it('leaves out what kvfleet answered itself without routing (GET /v1/models)', async () => {
    const dir = await tmp();
    const path = join(dir, 'm.jsonl');
    const rec = await Recorder.open(cfg(path), { now: () => 0 });
    const models: RequestReport = {
      requestId: 'list-1',
      api: undefined,
      decision: undefined,
      tenant: undefined,
      admission: undefined,
      error: undefined,
      decisionUs: undefined,
      status: 200,
      servedEndpoint: undefined,
      upstreamMs: undefined,
      stream: false,
    };
    rec.record(models);
    await rec.close();
    expect(await readFile(path, 'utf8')).toBe('');
  });

  it('records nothing at sample_rate 0 and about half at 0.5; stops when record: is removed', async () => {
    const dir = await tmp();
    const path = join(dir, 's.jsonl');
    const rec = await Recorder.open(cfg(path, { sample_rate: 0 }), { now: () => 0 });
    const { send } = rig();
    const reports = Array.from({ length: 200 }, (_, i) => ({ ...send(chat([{ role: 'user', text: `q${i}` }])), key: `key-${i}` }));
    for (const r of reports) rec.record(r);
    await rec.flush();
    expect((await readFile(path, 'utf8')).length).toBe(0);
    await rec.configure(cfg(path, { sample_rate: 0.5 }));
    for (const r of reports) rec.record(r);
    await rec.flush();
    const n = (await linesOf(path)).length;
    expect(n).toBeGreaterThan(70);
    expect(n).toBeLessThan(130);
    await rec.configure(undefined);
    expect(rec.enabled).toBe(false);
    rec.record(reports[0] as RequestReport);
    expect((await linesOf(path)).length).toBe(n);
    await rec.close();
  });
});

/** Record lines of requests routed on the rig's fleet (keys as kvfleet computed them). */
function recorded(inputs: RequestInput[], sessions: Array<string | undefined> = []): ReplayLine[] {
  const { send } = rig();
  return inputs.map((inp, i) =>
    replayLineSchema.parse(JSON.parse(JSON.stringify(recordLine(send(inp, { sessionId: sessions[i] }), clockOf(1000 + i), false)))),
  );
}

/** Leading blocks two renders share, at `bc` characters per block. */
function sharedBlocks(a: PromptSegment[], b: PromptSegment[], blockTokens: number): number {
  const aff = { block_tokens: blockTokens, chars_per_token: 4, max_blocks: 10_000 };
  const fa = fingerprint(a, 0, aff);
  const fb = fingerprint(b, 0, aff);
  let k = 0;
  while (k < fa.blocks && k < fb.blocks && fa.chain[k] === fb.chain[k]) k++;
  return k;
}

describe('synthesis from block keys', () => {
  const sys = { role: 'system', text: SECRET_SYSTEM };
  const turn1 = [sys, { role: 'user', text: SECRET_USER }];
  const turn2 = [...turn1, { role: 'assistant', text: 'The porcupine named Bartholomew, on a unicycle.' }, { role: 'user', text: 'And who signed for it?' }];
  const other = [sys, { role: 'user', text: 'A wholly different question about lighthouses and their keepers, at some length.' }];
  const stranger = [{ role: 'user', text: 'Nothing in common with the others at all, not even the system prompt. '.repeat(5) }];

  it('keeps roles, sizes and every shared prefix; an exact repeat repeats whole', () => {
    const inputs = [turn1, turn2, other, stranger, turn1].map((s) => chat(s));
    const lines = recorded(inputs);
    const synth = lines.map((l) => synthSegments(l));
    synth.forEach((s, i) => {
      expect(s.map((x) => x.role)).toEqual(inputs[i]?.segments.map((x) => x.role));
      expect(s.map((x) => x.text.length)).toEqual(inputs[i]?.segments.map((x) => x.text.length));
    });
    // No recorded text comes back.
    for (const s of synth) for (const w of windows(SECRET_USER)) expect(s.map((x) => x.text).join('')).not.toContain(w);
    const originals = inputs.map((x) => [...x.segments]);
    for (const [a, b] of [
      [0, 1],
      [0, 2],
      [1, 2],
      [0, 3],
    ] as const) {
      const orig = sharedBlocks(originals[a] as PromptSegment[], originals[b] as PromptSegment[], 16);
      // At the recording's block size, and at a finer one (an engine's 16-token blocks vs 4).
      expect(sharedBlocks(synth[a] as PromptSegment[], synth[b] as PromptSegment[], 16)).toBe(orig);
      expect(sharedBlocks(synth[a] as PromptSegment[], synth[b] as PromptSegment[], 4)).toBeGreaterThanOrEqual(orig * 4);
    }
    expect(sharedBlocks(originals[0] as PromptSegment[], originals[1] as PromptSegment[], 16)).toBeGreaterThan(5);
    expect(sharedBlocks(synth[0] as PromptSegment[], synth[3] as PromptSegment[], 16)).toBe(0);
    // Deterministic, and the repeat of turn 1 is the same text throughout (tail included).
    expect(synthSegments(lines[0] as ReplayLine)).toEqual(synth[0]);
    expect(synth[4]).toEqual(synth[0]);
    // A seed gives other text (a later replay starts cold) with the same structure.
    const seeded = lines.map((l) => synthSegments(l, 7));
    expect(seeded[0]?.[0]?.text).not.toBe(synth[0]?.[0]?.text);
    expect(sharedBlocks(seeded[0] as PromptSegment[], seeded[1] as PromptSegment[], 16)).toBe(
      sharedBlocks(originals[0] as PromptSegment[], originals[1] as PromptSegment[], 16),
    );
    expect(sharedBlocks(seeded[0] as PromptSegment[], synth[0] as PromptSegment[], 16)).toBe(0);
    expect(synthSegments(lines[0] as ReplayLine, 7)).toEqual(seeded[0]);
  });

  it('builds the request: the model replaced, usage asked of streams, sessions kept per model', () => {
    const [line] = recorded([chat(turn1, { stream: true, maxOutputTokens: 32 })], ['conv-1']);
    const l = line as ReplayLine;
    const a = replayRequest(l, 'big', 'replay-0-big');
    expect(a?.path).toBe('/v1/chat/completions');
    expect(a?.body).toMatchObject({ model: 'big', stream: true, max_tokens: 32, temperature: 0.3, stream_options: { include_usage: true } });
    expect(a?.headers['x-session-id']).toBe(`replay-${l.session}-big`);
    expect(replayRequest(l, undefined, 'r')?.body['model']).toBe('small');
    const completion = replayRequest(
      {
        ...l,
        api: 'completion',
        messages: [
          ['prompt', 40],
          ['prompt', 50],
        ],
        session: undefined,
      },
      undefined,
      'r',
    );
    expect(completion?.path).toBe('/v1/completions');
    expect((completion?.body['prompt'] as string[]).map((p) => p.length)).toEqual([40, 50]);
    expect(completion?.headers['x-session-id']).toBeUndefined();
    const caps = replayRequest({ ...l, tools: true, json_mode: true }, 'big', 'r');
    expect(caps?.body['response_format']).toEqual({ type: 'json_object' });
    expect((caps?.body['tools'] as unknown[]).length).toBe(1);
    expect(recorded([chat(turn1, { hasTools: true, jsonMode: true })])[0]).toMatchObject({ tools: true, json_mode: true });
    expect(l.tools).toBeUndefined();
    const withBody = replayRequest({ ...l, body: { model: 'small', messages: [{ role: 'user', content: 'hi' }], stream: false } }, 'big', 'r');
    expect(withBody?.body).toEqual({ model: 'big', messages: [{ role: 'user', content: 'hi' }], stream: false });
  });
});

describe('replay schedule', () => {
  const base = recorded([chat([{ role: 'user', text: 'x' }])])[0] as ReplayLine;
  const at = (ts: string, t: number, run = 'r1'): ReplayLine => ({ ...base, ts, t_ms: t, run, rid: `${run}-${t}` });

  it('keeps the recorded spacing (t_ms within a run, wall time across runs), caps idle gaps, keeps the earliest', () => {
    const lines = [
      at('2025-01-01T00:00:01.000Z', 1000.5),
      at('2025-01-01T00:00:00.000Z', 0),
      at('2025-01-01T00:00:00.250Z', 250.25),
      at('2025-01-01T00:10:00.000Z', 5, 'r2'),
    ];
    expect(schedule(lines).map((r) => r.atMs)).toEqual([0, 250.25, 1000.5, 1000.5 + 599_000]);
    expect(schedule(lines, { maxGapMs: 2000 }).map((r) => r.atMs)).toEqual([0, 250.25, 1000.5, 3000.5]);
    expect(schedule(lines, { limit: 2 }).map((r) => r.line.rid)).toEqual(['r1-0', 'r1-250.25']);
  });

  it('reads files, skipping lines that are not records and requests without a shape', async () => {
    const dir = await tmp();
    const f = join(dir, 'x.jsonl');
    const noShape = { ...base, api: undefined, messages: undefined, refused: { code: 'invalid_json', status: 400 } };
    await writeFile(f, [JSON.stringify(base), 'not json', JSON.stringify({ hello: 1 }), JSON.stringify(noShape), ''].join('\n'));
    const r = await loadRecords([f]);
    expect(r).toMatchObject({ read: 4, invalid: 2, noShape: 1 });
    expect(r.records).toHaveLength(1);
  });
});

describe('comparison', () => {
  const res = (status: number, ms: number, extra: Partial<ReplayResult> = {}): ReplayResult => ({
    index: 0,
    group: 'small',
    status,
    ttftMs: ms,
    e2eMs: ms * 10,
    lateMs: 0,
    ...extra,
  });

  it('counts statuses, error rate, quantiles over 2xx, tokens, cost, prefix hits and cached share', () => {
    const rs: ReplayResult[] = [];
    for (let i = 1; i <= 10; i++)
      rs.push(
        res(200, i * 10, {
          affinity: i <= 6 ? `prefix:0.${i}0` : 'none',
          usage: { prompt: 100, completion: 10, cached: i <= 5 ? 50 : 0 },
          endpoint: `e${i % 2}`,
        }),
      );
    rs.push(res(503, 1, { affinity: '-' }), res(0, Number.NaN, { error: 'ECONNRESET' }));
    const s = summarizeGroup('small', rs, { priors: { quality: 0.5, cost_per_1k_input: 0.5, cost_per_1k_output: 1.5, latency_p50_ms: 500 } });
    expect(s).toMatchObject({ requests: 12, ok: 10, errors: 2, statuses: { '200': 10, '503': 1, 'error:ECONNRESET': 1 }, endpoints: { e0: 5, e1: 5 } });
    expect(s.error_rate).toBeCloseTo(2 / 12);
    expect(s.ttft_ms).toEqual({ p50: 50, p90: 90, mean: 55 });
    expect(s.latency_ms.p90).toBe(900);
    expect(s.tokens).toEqual({ prompt: 1000, completion: 100, cached: 250, with_usage: 10 });
    expect(s.cost_usd).toBeCloseTo((1000 * 0.5 + 100 * 1.5) / 1000);
    expect(s.prefix_hit_rate).toBeCloseTo(0.6); // 6 of the 10 routed ('-' is not routed)
    expect(s.prefix_match).toBeCloseTo(0.35); // mean of .1 … .6
    expect(s.cached_token_share).toBeCloseTo(0.25);
    expect(summarizeGroup('x', [res(200, 5)]).cost_usd).toBeNull();
  });

  it('groups per model in the --models order, an empty model included', () => {
    const s = summarize([res(200, 1, { group: 'b' }), res(200, 2, { group: 'a' }), res(200, 3, { group: 'z' })], ['a', 'b', 'c']);
    expect(s.map((x) => [x.model, x.requests])).toEqual([
      ['a', 1],
      ['b', 1],
      ['c', 0],
      ['z', 1],
    ]);
    expect(affinityMatch('session')?.hit).toBe(true);
    expect(affinityMatch(undefined)).toBeUndefined();
  });

  it('reads usage from a JSON body and from the SSE usage chunk', () => {
    expect(usageIn('{"id":"x","usage":{"prompt_tokens":12,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":8}}}')).toEqual({
      prompt: 12,
      completion: 3,
      cached: 8,
    });
    const sse = [
      'data: {"choices":[{"delta":{"content":"\\"usage\\" is a word"}}],"usage":null}',
      'data: {"choices":[],"usage":{"prompt_tokens":40,"completion_tokens":7}}',
      'data: [DONE]',
      '',
    ].join('\n\n');
    expect(usageIn(sse)).toEqual({ prompt: 40, completion: 7, cached: undefined });
    expect(usageIn('data: {"usage":null}\n\ndata: [DONE]')).toBeUndefined();
    expect(usageIn('{"data":[{"embedding":[0.1]}],"usage":{"prompt_tokens":5,"total_tokens":5}}')).toEqual({ prompt: 5, completion: 0, cached: undefined });
  });
});

describe('kvfleet replay (CLI)', () => {
  const run = promisify(execFile);
  const cli = (args: string[]) =>
    run(process.execPath, ['bin/kvfleet.js', ...args]).then(
      (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
    );

  it('a target that is down: one line, exit 4', async () => {
    const dir = await tmp();
    const f = join(dir, 'r.jsonl');
    await writeFile(f, `${JSON.stringify(recordLine(rig().send(chat([{ role: 'user', text: 'hello' }])), clockOf(1000), false))}\n`);
    // A port that was free a moment ago: nothing listens there.
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const r = await cli(['replay', f, '--target', `http://127.0.0.1:${port}`]);
    expect(r.code).toBe(4);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toContain('ECONNREFUSED');
    expect(r.out).toBe('');
  });

  it('serve refuses to start when record.path cannot be opened, naming it', async () => {
    const dir = await tmp();
    const f = join(dir, 'fleet.yaml');
    await writeFile(f, `${FLEET}\nrecord: { path: ${join(dir, 'missing-dir', 'r.jsonl')} }\nscrape: { enabled: false }\n`);
    const r = await cli(['serve', '-c', f, '--grpc-port', '0', '--admin-port', '0']);
    expect(r.code).toBe(1);
    expect(r.err.trim()).toBe(`kvfleet: ${join(dir, 'missing-dir', 'r.jsonl')}: no such file or directory`);
  });

  it('a file without a replayable request: exit 1, says so', async () => {
    const dir = await tmp();
    const f = join(dir, 'empty.jsonl');
    await writeFile(f, 'garbage\n');
    const r = await cli(['replay', f, '--target', 'http://127.0.0.1:9']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('no replayable request');
  });
});
