// The dashboard page (the real route and files) in a real headless Chromium, against a stub
// admin port whose JSON the test controls: every section rendered from the documented
// shapes (/models/stats and /shadow/report included), hostile names shown as text and never
// run, 404s turned into "not enabled on this kvfleet", an unreachable kvfleet reported while
// the last answers stay on screen, and the query string's refresh and window honoured.
import type { Browser } from 'puppeteer-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dashboardRoutes } from '../../src/admin/dashboard-routes.js';
import { sendJson, startAdminServer, type AdminRoute, type AdminServer } from '../../src/admin/http-server.js';
import { launchBrowser, openPage, type BrowserPage } from '../helpers/browser.js';

const EVIL_MODEL = '<img src=x onerror="window.pwned=1">llama';
const EVIL_REASON = '<script>window.pwned=2</script>';
const EVIL_TENANT = '"><b id="bold">tenant</b>';
const EVIL_CANDIDATE = '</table><i id="italic">cand</i>';

const fleet = {
  discovery: { enabled: false },
  scrape: { enabled: true },
  models: [
    { name: EVIL_MODEL, cluster: 'pool-a', engine: 'vllm', source: 'fleet_file', endpoints: ['10.0.0.1:8000', '10.0.0.2:8000'] },
    { name: 'cloud', cluster: 'pool-c', engine: 'openai', source: 'fleet_file', endpoints: ['api.example.com'] },
  ],
  endpoints: [
    {
      address: '10.0.0.1:8000',
      inflight: 3,
      healthy: true,
      stale: false,
      engine: { running: 3, waiting: 1, kvUsage: 0.42 },
      circuit: 'closed',
      healthScore: 1,
      scrapeAgeMs: 120,
    },
    {
      address: '10.0.0.2:8000',
      inflight: 0,
      healthy: false,
      stale: true,
      lastEngine: { running: 0, waiting: 7, kvUsage: 0.97 },
      circuit: 'open',
      healthScore: 0.2,
      envoy: { healthy: false, flags: ['failed_outlier_check'] },
      coolingMs: 2500,
      coolReason: '429 retry-after',
      scrapeAgeMs: 9000,
      scrapeError: 'timeout',
    },
  ],
};

const models = {
  window_seconds: 30,
  models: [
    {
      model: EVIL_MODEL,
      state: 'active',
      requests_per_second: 0.5,
      requests_in_window: 15,
      last_request_at: new Date().toISOString(),
      idle_seconds: 1.5,
      inflight: 2,
      sleep: { idle_seconds: 300 },
    },
    { model: 'cloud', state: 'sleeping', requests_per_second: 0, requests_in_window: 0, last_request_at: null, idle_seconds: null, inflight: 0, sleep: null },
    { model: 'b', state: 'waking', requests_per_second: 0, requests_in_window: 0, last_request_at: null, idle_seconds: null, inflight: 0, sleep: null },
    {
      model: 'c',
      state: 'falling_asleep',
      requests_per_second: 0,
      requests_in_window: 0,
      last_request_at: null,
      idle_seconds: 400,
      inflight: 0,
      sleep: { idle_seconds: 300 },
    },
    { model: 'd', state: 'idle', requests_per_second: 0, requests_in_window: 0, last_request_at: null, idle_seconds: 60, inflight: 0, sleep: null },
  ],
};

const decisions = {
  capacity: 1024,
  count: 1,
  decisions: [
    {
      request_id: 'req-1',
      at: new Date().toISOString(),
      model: EVIL_MODEL,
      cluster: 'pool-a',
      endpoint: '10.0.0.1:8000',
      fallbacks: ['10.0.0.2:8000'],
      strategy: 'hybrid_score',
      score: 0.812,
      affinity: { kind: 'prefix', score: 0.94 },
      reasons: ['prefix-hit', EVIL_REASON],
      priority: 'normal',
      tenant: EVIL_TENANT,
      data_class: 'public',
      pii: [],
      prompt_tokens: 400,
      candidates: [{ model: EVIL_CANDIDATE, total: 0.8 }],
      rejected: [],
    },
  ],
};

const explanation = {
  request_id: 'req-1',
  model: EVIL_MODEL,
  candidates: [{ model: EVIL_CANDIDATE, strategy_score: 0.8, total: 0.8, scores: { cache: 0.94, load: 0.7 }, endpoint: '10.0.0.1:8000', ttft_ms: 12.5 }],
  rejected: [{ model: 'cloud', reason: EVIL_REASON }],
  endpoint_details: [
    { address: '10.0.0.1:8000', role: 'primary', healthy: true, inflight: 3, matched_blocks: 6, wait_ms: 1, prefill_ms: 2, ttft_ms: 3 },
    { address: '10.0.0.2:8000', role: 'fallback', healthy: false, inflight: 0, matched_blocks: 0, wait_ms: 4, prefill_ms: 5, ttft_ms: 9 },
  ],
};

const side = (count: number, errors: number, p50: number) => ({
  count,
  errors,
  ttfb_ms_p50: p50,
  ttfb_ms_p90: p50 * 2,
  total_ms_p50: p50 * 10,
  total_ms_p90: p50 * 20,
  tokens_mean: 42.25,
});
const shadow = {
  pairs: [
    {
      model: EVIL_MODEL,
      candidate: EVIL_CANDIDATE,
      sample_rate: 0.1,
      sampled: 12,
      mirrored: 11,
      skipped_policy: 1,
      primary: side(12, 0, 40),
      shadow: side(11, 1, 55),
    },
  ],
};

/** What the stub answers: JSON, a 404, or a dropped connection (kvfleet unreachable). */
type Answer = { status: number; body: unknown } | 'drop';
const answers = new Map<string, Answer>();
const asked: string[] = [];

function resetAnswers(): void {
  answers.clear();
  answers.set('/fleet', { status: 200, body: fleet });
  answers.set('/models/stats', { status: 200, body: models });
  answers.set('/debug/decisions', { status: 200, body: decisions });
  answers.set('/debug/decisions/req-1', { status: 200, body: explanation });
  answers.set('/shadow/report', { status: 200, body: shadow });
}

const stub: AdminRoute = (req, res, url) => {
  const a = answers.get(url.pathname);
  if (a === undefined) return false;
  asked.push(`${url.pathname}${url.search}`);
  if (a === 'drop') {
    req.socket.destroy();
    return true;
  }
  sendJson(res, a.status, a.body);
  return true;
};

let admin: AdminServer;
let browser: Browser;
let base: string;

beforeAll(async () => {
  admin = await startAdminServer({ host: '127.0.0.1', port: 0 }, [stub, dashboardRoutes()]);
  base = `http://127.0.0.1:${admin.port}`;
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await admin?.close();
});
beforeEach(() => {
  resetAnswers();
  asked.length = 0;
});

async function open(query = '?refresh=0'): Promise<BrowserPage> {
  const bp = await openPage(browser);
  await bp.page.goto(`${base}/dashboard${query}`, { waitUntil: 'load' });
  await bp.page.waitForSelector('body[data-refreshes]', { timeout: 10_000 });
  return bp;
}

const text = (bp: BrowserPage, sel: string) => bp.page.$eval(sel, (e) => (e.textContent ?? '').replace(/\s+/g, ' ').trim());
const cells = (bp: BrowserPage, sel: string) => bp.page.$$eval(sel, (tds) => tds.map((td) => (td.textContent ?? '').replace(/\s+/g, ' ').trim()));
/** Elements a hostile name would have created if it had been parsed as HTML. */
const injected = (bp: BrowserPage) =>
  bp.page.evaluate(() => ({
    pwned: (window as unknown as { pwned?: number }).pwned,
    elements: document.querySelectorAll('main img, main script, #bold, #italic').length,
  }));

describe('dashboard rendering (real Chromium, stub admin JSON)', () => {
  it('renders endpoints: health and why not, load, KV usage, staleness, cooldown, circuit', async () => {
    const bp = await open();
    const a = await cells(bp, '#fleet tr[data-endpoint="10.0.0.1:8000"] > td');
    expect(a.slice(0, 6)).toEqual([EVIL_MODEL, '10.0.0.1:8000', 'healthy', '3', '3', '1']);
    expect(a[6]).toBe('42 %');
    expect(a[7]).toBe('fresh 120 ms ago');
    expect(a[8]).toBe('—');
    expect(a[9]).toBe('closed 1.00');
    const b = await cells(bp, '#fleet tr[data-endpoint="10.0.0.2:8000"] > td');
    expect(b[2]).toBe('unhealthy failed_outlier_check, circuit open, timeout');
    expect(b.slice(4, 7)).toEqual(['0', '7', '97 %']); // the last known load, marked stale
    expect(await bp.page.$$eval('#fleet tr[data-endpoint="10.0.0.2:8000"] td.stale', (tds) => tds.length)).toBe(3);
    expect(b[7]).toBe('stale 9.0 s ago');
    expect(b[8]).toBe('cooling 2.5 s 429 retry-after');
    expect(b[9]).toBe('open 0.20');
    expect(await text(bp, '#fleet tr[data-endpoint="api.example.com"]')).toContain('hosted provider (openai)');
    expect(await text(bp, '#fleet .summary')).toContain('1 of 2 endpoints healthy');
    expect(bp.problems).toEqual([]);
    await bp.page.close();
  });

  it('renders the models with their state and traffic, asking for the window of the query string', async () => {
    const bp = await open('?refresh=0&window=30');
    expect(asked).toContain('/models/stats?window=30');
    const rows = await bp.page.$$eval('#models tr[data-model]', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    expect(rows.map((r) => [r[0], r[1]])).toEqual([
      [EVIL_MODEL, 'active'],
      ['cloud', 'sleeping'],
      ['b', 'waking'],
      ['c', 'falling asleep'],
      ['d', 'idle'],
    ]);
    expect(rows[0]?.slice(2, 5)).toEqual(['0.50', '15', '2']);
    expect(rows[0]?.[7]).toBe('after 5 min 0 s idle');
    expect(rows[1]?.[5]).toBe('—');
    expect(await text(bp, '#models .summary')).toBe('traffic over the last 30 s');
    expect(bp.problems).toEqual([]);
    await bp.page.close();
  });

  it('renders decisions and their full explanation, and the shadow report, hostile names as text', async () => {
    const bp = await open();
    const d = await cells(bp, '#decisions tr[data-request-id="req-1"] > td');
    expect(d.slice(1, 8)).toEqual(['req-1', EVIL_MODEL, '10.0.0.1:8000', '1', 'hybrid_score', '0.812', 'prefix 0.94']);
    expect(await bp.page.$$eval('#decisions tr[data-request-id="req-1"] .chip', (cs) => cs.map((c) => c.textContent))).toEqual(['prefix-hit', EVIL_REASON]);
    expect(d[9]).toBe(`${EVIL_TENANT} · public`);

    await bp.page.click('#decisions tr[data-request-id="req-1"]');
    await bp.page.waitForSelector('#decisions tr.detail .explain');
    const detail = await text(bp, '#decisions tr.detail');
    expect(detail).toContain(EVIL_CANDIDATE);
    expect(detail).toContain(`cloud: ${EVIL_REASON}`);
    expect(detail).toContain('cache 0.94 · load 0.7');
    // Still open after a refresh.
    await bp.page.click('#pause'); // refresh=0: the button refreshes
    await bp.page.waitForFunction(() => document.body.dataset['refreshes'] === '2');
    expect(await bp.page.$('#decisions tr.detail .explain')).not.toBeNull();

    expect(await text(bp, '#shadow .pair h3')).toBe(`${EVIL_MODEL} → ${EVIL_CANDIDATE}`);
    expect(await bp.page.$$eval('#shadow .pair p .chip', (cs) => cs.map((c) => c.textContent))).toEqual([
      'sample 10 %',
      '12 sampled',
      '11 mirrored',
      '1 kept from the candidate by policy',
    ]);
    const sides = await bp.page.$$eval('#shadow .pair tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    expect(sides).toEqual([
      [`primary (${EVIL_MODEL})`, '12', '0 (0.0 %)', '40 / 80', '400 / 800', '42.3'],
      [`shadow (${EVIL_CANDIDATE})`, '11', '1 (9.1 %)', '55 / 110', '550 / 1100', '42.3'],
    ]);

    expect(await injected(bp)).toEqual({ pwned: undefined, elements: 0 });
    expect(bp.problems).toEqual([]);
    await bp.page.close();
  });

  it('says "not enabled on this kvfleet" for endpoints that answer 404, and the rest still renders', async () => {
    answers.set('/models/stats', { status: 404, body: { error: { message: 'no route', code: 'unknown_route' } } });
    answers.set('/shadow/report', { status: 404, body: { error: { message: 'no route', code: 'unknown_route' } } });
    const bp = await open();
    expect(await text(bp, '#models .body')).toContain('not enabled on this kvfleet');
    expect(await text(bp, '#shadow .body')).toContain('not enabled on this kvfleet');
    expect(await bp.page.$$eval('#fleet tr[data-endpoint]', (r) => r.length)).toBe(3);
    expect(await text(bp, '#status')).toBe('live');
    await bp.page.close();
  });

  it('reports an unreachable kvfleet, keeps the last answers on screen, and recovers by itself', async () => {
    const bp = await open('?refresh=0.5');
    expect(await text(bp, '#status')).toBe('live');
    for (const p of ['/fleet', '/models/stats', '/debug/decisions', '/shadow/report']) answers.set(p, 'drop');
    await bp.page.waitForFunction(() => document.getElementById('status')?.textContent?.startsWith('cannot reach kvfleet') === true, { timeout: 10_000 });
    expect(await bp.page.$$eval('#fleet tr[data-endpoint]', (r) => r.length)).toBe(3);
    expect(await bp.page.$$eval('#decisions tr[data-request-id]', (r) => r.length)).toBe(1);
    resetAnswers();
    await bp.page.waitForFunction(() => document.getElementById('status')?.textContent === 'live', { timeout: 10_000 });
    // Chromium logs the dropped fetches as console errors; nothing else may appear.
    expect(bp.problems.filter((p) => !p.text.includes('ERR_EMPTY_RESPONSE') && !p.text.includes('Failed to fetch'))).toEqual([]);
    await bp.page.close();
  });

  it('serves the page with a strict CSP, redirects / and /dashboard/ relative to where it is mounted', async () => {
    const page = await fetch(`${base}/dashboard`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('content-security-policy')).toContain("connect-src 'self'");
    const html = await page.text();
    expect(html).not.toMatch(/https?:\/\//); // nothing from elsewhere: works offline
    expect((await fetch(`${base}/dashboard/app.js`)).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await fetch(`${base}/dashboard/style.css`)).headers.get('content-type')).toBe('text/css; charset=utf-8');
    const root = await fetch(`${base}/?refresh=5`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('dashboard?refresh=5');
    const slash = await fetch(`${base}/dashboard/`, { redirect: 'manual' });
    expect(slash.headers.get('location')).toBe('../dashboard');
    expect((await fetch(`${base}/dashboard/../src/serve.ts`)).status).toBe(404);
    expect((await fetch(`${base}/dashboard/index.html`)).status).toBe(404);
  });
});
