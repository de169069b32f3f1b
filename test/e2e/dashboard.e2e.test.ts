// The dashboard in a real headless Chromium against a running stack (simulated replicas,
// kvfleet on the demo fleet file, a real Envoy): requests go through Envoy, then the test
// reads the page as a person would — endpoints and their health, the recent decisions with
// the endpoint chosen and the reasons, a new request appearing without a reload, a decision's
// full explanation on a click — and requires no console errors. A screenshot of the page is
// taken each run; KVFLEET_DASHBOARD_SCREENSHOT=docs/dashboard.png keeps it (README).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, openPage, type BrowserPage } from '../helpers/browser.js';
import { postJson, startStack, type Stack } from '../helpers/stack.js';

let stack: Stack;
let browser: Browser;
let shotDir: string;

interface Sent {
  readonly id: string;
  readonly model: string;
  readonly endpoint: string;
  readonly reasons: string[];
  /** x-kvfleet-affinity: `prefix:0.94`, `session`, `none`. */
  readonly affinity: string;
}
const sent: Sent[] = [];

const SYSTEM = `You are a careful assistant for the operations team. ${'Answer with the facts you have, and say which you lack. '.repeat(12)}`;

async function ask(model: string, id: string, content: string, history: Array<{ role: string; content: string }> = []): Promise<Sent> {
  const res = await postJson(
    stack.url,
    '/v1/chat/completions',
    { model, messages: [{ role: 'system', content: SYSTEM }, ...history, { role: 'user', content }] },
    { 'x-request-id': id },
  );
  await res.arrayBuffer();
  expect(res.status, stack.logs()).toBe(200);
  const s = {
    id: res.headers.get('x-kvfleet-request-id') ?? '',
    model: res.headers.get('x-kvfleet-model') ?? '',
    endpoint: res.headers.get('x-kvfleet-endpoint') ?? '',
    reasons: (res.headers.get('x-kvfleet-reason') ?? '').split(','),
    affinity: res.headers.get('x-kvfleet-affinity') ?? '',
  };
  sent.push(s);
  return s;
}

beforeAll(async () => {
  // Every llama request is also mirrored to qwen (shadow traffic), so the shadow section has a pair.
  stack = await startStack({
    sim: { decodeMsPerToken: 1, defaultMaxTokens: 4 },
    editFleet: (f) => {
      f['shadow'] = [{ model: 'llama-3-8b', candidates: ['qwen-2.5-7b'], sample_rate: 1 }];
    },
  });
  browser = await launchBrowser();
  shotDir = await mkdtemp(join(tmpdir(), 'kvfleet-dashboard-'));
  // A conversation and its second turn (a prefix hit), another model, `auto`, the hosted provider.
  await ask('llama-3-8b', 'dash-chat-1', 'Which replicas are busy?');
  await ask('llama-3-8b', 'dash-chat-2', 'And which are idle?', [
    { role: 'user', content: 'Which replicas are busy?' },
    { role: 'assistant', content: 'tok1 tok2 tok3 tok4' },
  ]);
  await ask('qwen-2.5-7b', 'dash-qwen-1', 'Summarise the incident.');
  await ask('auto', 'dash-auto-1', 'Pick a model for me.');
  await ask('hosted-gpt', 'dash-hosted-1', 'Hello from the hosted side.');
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  if (shotDir !== undefined) await rm(shotDir, { recursive: true, force: true });
});

/** Open the dashboard through `/` (the redirect) and wait for its first refresh. */
async function openDashboard(query = ''): Promise<BrowserPage> {
  const bp = await openPage(browser);
  const res = await bp.page.goto(`${stack.kvfleet.adminUrl}/${query}`, { waitUntil: 'load' });
  expect(res?.status()).toBe(200);
  expect(new URL(bp.page.url()).pathname).toBe('/dashboard');
  await bp.page.waitForSelector('body[data-refreshes]', { timeout: 10_000 });
  return bp;
}

/** Rows of a section's table as {key: the row's data attribute, cells: their text}. */
async function rows(bp: BrowserPage, section: string, key: string): Promise<Array<{ key: string | null; cells: string[] }>> {
  return bp.page.$$eval(
    `#${section} table > tbody > tr[${key}]`,
    (trs, k) => trs.map((tr) => ({ key: tr.getAttribute(k), cells: [...tr.querySelectorAll(':scope > td')].map((td) => (td.textContent ?? '').trim()) })),
    key,
  );
}

const sectionText = (bp: BrowserPage, id: string) => bp.page.$eval(`#${id}`, (e) => (e.textContent ?? '').replace(/\s+/g, ' '));

/** Console errors (none expected: every admin endpoint the page reads exists on this kvfleet). */
const unexpected = (bp: BrowserPage) => bp.problems;

describe('the dashboard in a real browser', () => {
  it('lists every endpoint of the fleet with its model and health', async () => {
    const bp = await openDashboard();
    const eps = await rows(bp, 'fleet', 'data-endpoint');
    const addrs = (s: Stack) => [...s.llama.replicas, ...s.qwen.replicas].map((r) => `127.0.0.1:${r.port}`);
    for (const a of addrs(stack)) {
      const row = eps.find((r) => r.key === a);
      expect(row, `row for ${a} in ${JSON.stringify(eps)}`).toBeDefined();
      expect(row?.cells[2]).toBe('healthy');
      // Engine metrics scraped (fresh, or stale for a moment on a loaded machine) and their age.
      expect(row?.cells[7]).toMatch(/^(fresh|stale) [\d.]+ m?s ago$/);
    }
    const llamaRows = eps.filter((r) => r.cells[0] === 'llama-3-8b').map((r) => r.key);
    expect(llamaRows.sort()).toEqual(stack.llama.replicas.map((r) => `127.0.0.1:${r.port}`).sort());
    // The hosted provider: one virtual endpoint named by its host, not scraped.
    const hosted = eps.find((r) => r.cells[0] === 'hosted-gpt');
    expect(hosted?.key).toBe('hosted.kvfleet.test');
    expect(hosted?.cells[2]).toBe('healthy');
    expect(hosted?.cells[7]).toBe('not scraped');
    expect(await sectionText(bp, 'fleet')).toContain(`${eps.length} of ${eps.length} endpoints healthy`);
    expect(unexpected(bp)).toEqual([]);
    await bp.page.close();
  });

  it('shows the recent decisions, newest first, with the endpoint chosen and the reasons', async () => {
    const bp = await openDashboard();
    const ds = await rows(bp, 'decisions', 'data-request-id');
    expect(ds.map((d) => d.key).slice(0, sent.length)).toEqual(sent.map((s) => s.id).reverse());
    for (const s of sent) {
      const row = ds.find((d) => d.key === s.id);
      expect(row?.cells[2]).toBe(s.model);
      // The hosted provider's decision names its host; Envoy's header the address it resolved.
      if (s.model !== 'hosted-gpt') expect(row?.cells[3]).toBe(s.endpoint);
      const chips = await bp.page.$$eval(`#decisions tr[data-request-id="${s.id}"] td.reasons .chip`, (cs) => cs.map((c) => c.textContent));
      expect(chips).toEqual(s.reasons);
      expect(row?.cells[7]).toBe(s.affinity.replace(':', ' '));
    }
    // The second turn of the conversation stayed where the first was served.
    expect(sent.find((x) => x.id === 'dash-chat-2')?.affinity).not.toBe('none');
    expect(unexpected(bp)).toEqual([]);
    await bp.page.close();
  });

  it('refreshes by itself: a new request appears without a reload', async () => {
    const bp = await openDashboard('?refresh=1');
    await bp.page.evaluate(() => {
      (window as unknown as { notReloaded: boolean }).notReloaded = true;
    });
    const before = Number(await bp.page.$eval('body', (b) => b.dataset['refreshes']));
    const s = await ask('qwen-2.5-7b', 'dash-live-1', 'One more, while the page is open.');
    await bp.page.waitForSelector(`#decisions tr[data-request-id="${s.id}"]`, { timeout: 15_000 });
    expect(await bp.page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    expect(Number(await bp.page.$eval('body', (b) => b.dataset['refreshes']))).toBeGreaterThan(before);
    const row = (await rows(bp, 'decisions', 'data-request-id'))[0];
    expect(row?.key).toBe(s.id);
    expect(row?.cells[3]).toBe(s.endpoint);
    expect(unexpected(bp)).toEqual([]);
    await bp.page.close();
  });

  it('opens the full explanation of a decision on a click', async () => {
    const bp = await openDashboard('?refresh=0');
    const s = sent.find((x) => x.id === 'dash-chat-2');
    await bp.page.click(`#decisions tr[data-request-id="dash-chat-2"]`);
    await bp.page.waitForSelector('#decisions tr.detail .explain', { timeout: 5000 });
    const detail = await bp.page.$eval('#decisions tr.detail', (e) => e.textContent ?? '');
    expect(detail).toContain('Candidates');
    expect(detail).toContain('llama-3-8b');
    const roles = await bp.page.$$eval('#decisions tr.detail .explain table:last-of-type tbody tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
    );
    expect(roles.find((r) => r[1] === 'primary')?.[0]).toBe(s?.endpoint);
    expect(unexpected(bp)).toEqual([]);
    await bp.page.close();
  });

  it('shows every model with its traffic state, and the shadow pair with both sides answered', async () => {
    // Every llama request so far was mirrored: wait until their copies have ended at qwen.
    type Pair = { sampled: number; mirrored: number; shadow: { count: number } };
    const report = async () => ((await (await fetch(`${stack.kvfleet.adminUrl}/shadow/report`)).json()) as { pairs: Pair[] }).pairs[0];
    for (let i = 0; i < 100; i++) {
      const p = await report();
      if (p !== undefined && p.sampled >= 2 && p.shadow.count === p.mirrored) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const pair = await report();
    expect(pair?.sampled).toBeGreaterThanOrEqual(2);
    const bp = await openDashboard();
    const ms = await rows(bp, 'models', 'data-model');
    expect(ms.map((m) => m.key).sort()).toEqual(['hosted-gpt', 'llama-3-8b', 'qwen-2.5-7b']);
    // Each got traffic seconds ago: active (none is configured to sleep).
    for (const m of ms) expect(m.cells[1], JSON.stringify(m)).toBe('active');
    // The pair as GET /shadow/report has it: every llama request sampled and mirrored to qwen.
    const shadow = await sectionText(bp, 'shadow');
    expect(shadow).toContain('llama-3-8b → qwen-2.5-7b');
    expect(shadow).toContain(`${pair?.sampled} sampled`);
    expect(shadow).toContain(`${pair?.sampled} mirrored`);
    expect(unexpected(bp)).toEqual([]);

    // The picture in the README: the demo-like stack as it stands now.
    await bp.page.setViewport({ width: 1440, height: 900 });
    const png = join(shotDir, 'dashboard.png');
    await bp.page.screenshot({ path: png, fullPage: true });
    const bytes = await readFile(png);
    expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
    const keep = process.env['KVFLEET_DASHBOARD_SCREENSHOT'];
    if (keep !== undefined && keep !== '') await writeFile(keep, bytes);
    await bp.page.close();
  });
});
