// @ts-check
// kvfleet's dashboard: reads the admin JSON endpoints of the port that served this page and
// renders four sections, refreshing every few seconds. Plain browser JavaScript, no build and
// no third-party code. Every piece of text reaches the page as a DOM text node or attribute
// value (never innerHTML): model names, tenants and reasons come from config and requests.
// Query string: ?refresh=<s> (0 = off, default 2), ?window=<s> (traffic stats, default 60),
// ?decisions=<n> (recent decisions listed, default 25).

/**
 * @typedef {{ running: number, waiting: number, kvUsage: number }} EngineLoad
 * @typedef {{
 *   address: string, inflight: number, healthy: boolean, stale?: boolean,
 *   engine?: EngineLoad, lastEngine?: EngineLoad, circuit?: string, healthScore?: number,
 *   envoy?: { healthy: boolean, flags: string[] }, coolingMs?: number, coolReason?: string,
 *   latencyEmaMs?: number, scrapeAgeMs?: number, scrapeError?: string
 * }} EndpointJson
 * @typedef {{ name: string, cluster: string, engine?: string, source?: string, endpoints: string[] }} FleetModel
 * @typedef {{
 *   discovery?: { enabled: boolean, envoy_admin?: string, error?: string },
 *   scrape?: { enabled: boolean },
 *   models: FleetModel[], endpoints: EndpointJson[]
 * }} FleetJson
 * @typedef {{
 *   model: string, state: string, requests_per_second: number, requests_in_window: number,
 *   last_request_at: string | null, idle_seconds: number | null, inflight: number,
 *   sleep: { idle_seconds: number } | null
 * }} ModelStat
 * @typedef {{ window_seconds: number, models: ModelStat[] }} ModelStatsJson
 * @typedef {{
 *   request_id: string, at: string | null, model: string, endpoint: string | null, fallbacks: string[],
 *   strategy: string, score: number, affinity: { kind: string, score: number }, reasons: string[],
 *   priority: string, tenant: string | null, data_class: string, pii: string[]
 * }} DecisionSummary
 * @typedef {{ capacity: number, count: number, decisions: DecisionSummary[] }} DecisionListJson
 * @typedef {{
 *   count: number, errors: number, ttfb_ms_p50: number | null, ttfb_ms_p90: number | null,
 *   total_ms_p50: number | null, total_ms_p90: number | null, tokens_mean: number | null
 * }} ShadowSide
 * @typedef {{
 *   model: string, candidate: string, sample_rate: number, sampled: number, mirrored: number,
 *   skipped_policy: number, skipped_asleep?: number, lost?: number, primary: ShadowSide, shadow: ShadowSide
 * }} ShadowPair
 * @typedef {{ pairs: ShadowPair[] }} ShadowJson
 * @typedef {{ kind: 'ok', data: unknown } | { kind: 'absent' } | { kind: 'error', message: string }} Fetched
 * @typedef {string | number | Node | null | undefined | false} Child
 */

const params = new URLSearchParams(location.search);
const REFRESH_S = numberParam('refresh', 2, 0, 3600);
const WINDOW_S = numberParam('window', 60, 1, 86400);
const DECISIONS = Math.round(numberParam('decisions', 25, 1, 1000));

/** @param {string} name @param {number} fallback @param {number} min @param {number} max */
function numberParam(name, fallback, min, max) {
  const raw = params.get(name);
  const n = raw === null || raw.trim() === '' ? NaN : Number(raw);
  return Number.isFinite(n) ? Math.min(max, Math.max(min, n)) : fallback;
}

// ── DOM helpers: text only ──────────────────────────────────────────────────

/**
 * An element with attributes (class, title, data-*, …) and children; strings become text nodes.
 * @param {string} tag
 * @param {Record<string, string | undefined>} [attrs]
 * @param {Child[]} children
 * @returns {HTMLElement}
 */
function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) e.setAttribute(k, v);
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    e.append(typeof c === 'number' ? String(c) : c);
  }
  return e;
}

/** @param {string} text @param {string} kind */
const badge = (text, kind) => h('span', { class: `badge ${kind}` }, text);

/** @param {string} text */
const chip = (text) => h('span', { class: 'chip' }, text);

/** A table; rows are arrays of cells (a cell: a child, or a td/th element). @param {string[]} head @param {Array<Child[] | HTMLElement>} rows @param {string} [cls] */
function table(head, rows, cls) {
  const thead = h('thead', {}, h('tr', {}, ...head.map((t) => h('th', { scope: 'col' }, t))));
  const tbody = h('tbody', {});
  for (const r of rows)
    tbody.append(r instanceof HTMLElement ? r : h('tr', {}, ...r.map((c) => (c instanceof HTMLElement && /^T[DH]$/.test(c.tagName) ? c : h('td', {}, c)))));
  return h('div', { class: 'scroll' }, h('table', { class: cls }, thead, tbody));
}

/** Replace a section's summary line and body. @param {string} id @param {Child[]} summary @param {Child[]} body */
function fill(id, summary, body) {
  const section = document.getElementById(id);
  if (section === null) return;
  section.querySelector('.summary')?.replaceChildren(...summary.filter(isNode).map(toNode));
  section.querySelector('.body')?.replaceChildren(...body.filter(isNode).map(toNode));
}

/** @param {Child} c @returns {c is string | number | Node} */
const isNode = (c) => c !== null && c !== undefined && c !== false;
/** @param {string | number | Node} c @returns {string | Node} */
const toNode = (c) => (typeof c === 'number' ? String(c) : c);

/** A notice in place of a section's content. @param {string} id @param {string} text @param {string} [kind] */
function notice(id, text, kind = 'info') {
  fill(id, [], [h('p', { class: `notice ${kind}` }, text)]);
}

// ── formatting ──────────────────────────────────────────────────────────────

/** @param {number | null | undefined} ms */
function duration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/** @param {string | null | undefined} iso */
function ago(iso) {
  if (iso === null || iso === undefined) return '—';
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '—';
  return `${duration(Math.max(0, Date.now() - t))} ago`;
}

/** @param {number | null | undefined} x @param {number} [digits] */
function num(x, digits = 0) {
  return x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits);
}

/** @param {number} fraction 0..1 */
function usageBar(fraction) {
  const pct = Math.max(0, Math.min(100, fraction * 100));
  const level = pct >= 90 ? 'high' : pct >= 70 ? 'mid' : 'low';
  const fill = h('span', { class: `fill ${level}` });
  fill.style.width = `${pct.toFixed(1)}%`; // CSSOM, allowed by the page's style-src 'self'
  return h('span', { class: 'bar', title: `${pct.toFixed(1)} % of the KV cache in use` }, fill, h('span', { class: 'label' }, `${pct.toFixed(0)} %`));
}

// ── fetching ────────────────────────────────────────────────────────────────

/** GET a JSON endpoint of this admin port (relative to the page, so a path prefix in front of kvfleet works). @param {string} path @returns {Promise<Fetched>} */
async function getJson(path) {
  try {
    const res = await fetch(path, { headers: { accept: 'application/json' }, cache: 'no-store' });
    if (res.status === 404) return { kind: 'absent' };
    if (!res.ok) return { kind: 'error', message: `${path}: HTTP ${res.status}` };
    return { kind: 'ok', data: /** @type {unknown} */ (await res.json()) };
  } catch (e) {
    return { kind: 'error', message: `${path}: ${e instanceof Error ? e.message : String(e)}` };
  }
}

// ── sections ────────────────────────────────────────────────────────────────

/** @param {FleetJson} fleet */
function renderFleet(fleet) {
  const byAddress = new Map(fleet.endpoints.map((e) => [e.address, e]));
  /** @type {Map<string, string[]>} */
  const modelsOf = new Map();
  for (const m of fleet.models) for (const a of m.endpoints) modelsOf.set(a, [...(modelsOf.get(a) ?? []), m.name]);
  const healthy = fleet.endpoints.filter((e) => e.healthy).length;
  /** @type {HTMLElement[]} */
  const rows = [];
  const listed = new Set();
  for (const m of fleet.models) {
    for (const address of m.endpoints) {
      if (listed.has(address)) continue;
      listed.add(address);
      rows.push(endpointRow((modelsOf.get(address) ?? [m.name]).join(', '), address, byAddress.get(address), m));
    }
  }
  for (const e of fleet.endpoints) if (!listed.has(e.address)) rows.push(endpointRow('—', e.address, e, undefined));
  const d = fleet.discovery;
  fill(
    'fleet',
    [
      chip(`${fleet.models.length} models`),
      chip(`${healthy} of ${fleet.endpoints.length} endpoints healthy`),
      chip(d?.enabled === true ? `membership: Envoy admin${d.error !== undefined ? ` (error: ${d.error})` : ''}` : 'membership: fleet file'),
      chip(fleet.scrape?.enabled === false ? 'engine metrics: off' : 'engine metrics: scraped'),
    ],
    [table(['Model', 'Endpoint', 'Health', 'In-flight', 'Running', 'Waiting', 'KV cache', 'Metrics', 'Cooldown', 'Circuit', 'Latency'], rows, 'endpoints')],
  );
}

/**
 * @param {string} models @param {string} address
 * @param {EndpointJson | undefined} e @param {FleetModel | undefined} model
 */
function endpointRow(models, address, e, model) {
  const attrs = { 'data-endpoint': address };
  if (e === undefined) {
    // A hosted provider without listed endpoints is one virtual endpoint named by its host.
    const why = /:\d+$/.test(address)
      ? 'no live state yet (not scraped, nothing routed there)'
      : `hosted provider${model?.engine !== undefined ? ` (${model.engine})` : ''}: its Envoy cluster picks the host`;
    return h('tr', attrs, h('td', {}, models), h('td', { class: 'mono' }, address), h('td', { colspan: '9', class: 'muted' }, why));
  }
  const problems = [...(e.envoy?.flags ?? []), e.circuit === 'open' ? 'circuit open' : '', e.scrapeError ?? ''].filter((x) => x !== '');
  const health = h('td', { title: problems.join(', ') || undefined }, badge(e.healthy ? 'healthy' : 'unhealthy', e.healthy ? 'good' : 'bad'));
  if (!e.healthy && problems.length > 0) health.append(' ', h('span', { class: 'muted small' }, problems.join(', ')));
  const load = e.engine ?? e.lastEngine;
  const stale = e.engine === undefined && e.lastEngine !== undefined;
  /** @param {Child} x */
  const engineCell = (x) => h('td', { class: stale ? 'num stale' : 'num', title: stale ? 'last known value: the engine metrics are stale' : undefined }, x);
  const metrics =
    e.stale === undefined
      ? h('span', { class: 'muted' }, 'not scraped')
      : h(
          'span',
          {},
          badge(e.stale ? 'stale' : 'fresh', e.stale ? 'warn' : 'good'),
          ' ',
          e.scrapeAgeMs !== undefined ? `${duration(e.scrapeAgeMs)} ago` : 'none yet',
        );
  const cooling =
    e.coolingMs !== undefined && e.coolingMs > 0 ? h('span', {}, badge('cooling', 'warn'), ` ${duration(e.coolingMs)} ${e.coolReason ?? ''}`) : '—';
  const circuit = h(
    'span',
    {},
    badge(e.circuit ?? '—', e.circuit === 'open' ? 'bad' : e.circuit === 'half_open' ? 'warn' : 'plain'),
    e.healthScore !== undefined ? ` ${num(e.healthScore, 2)}` : '',
  );
  return h(
    'tr',
    attrs,
    h('td', {}, models),
    h('td', { class: 'mono' }, address),
    health,
    h('td', { class: 'num' }, e.inflight),
    engineCell(load !== undefined ? String(load.running) : '—'),
    engineCell(load !== undefined ? String(load.waiting) : '—'),
    engineCell(load !== undefined ? usageBar(load.kvUsage) : '—'),
    h('td', {}, metrics),
    h('td', {}, cooling),
    h('td', {}, circuit),
    h('td', { class: 'num' }, e.latencyEmaMs !== undefined ? duration(e.latencyEmaMs) : '—'),
  );
}

const STATE_KIND = /** @type {Record<string, string>} */ ({ active: 'good', idle: 'plain', sleeping: 'info', waking: 'warn', falling_asleep: 'warn' });

/** @param {ModelStatsJson} s */
function renderModels(s) {
  const rows = s.models.map((m) =>
    h(
      'tr',
      { 'data-model': m.model },
      h('td', {}, m.model),
      h('td', {}, badge(m.state.replace('_', ' '), STATE_KIND[m.state] ?? 'plain')),
      h('td', { class: 'num' }, num(m.requests_per_second, 2)),
      h('td', { class: 'num' }, m.requests_in_window),
      h('td', { class: 'num' }, m.inflight),
      h('td', { title: m.last_request_at ?? undefined }, ago(m.last_request_at)),
      h('td', { class: 'num' }, m.idle_seconds === null ? '—' : duration(m.idle_seconds * 1000)),
      h('td', {}, m.sleep === null ? 'never' : `after ${duration(m.sleep.idle_seconds * 1000)} idle`),
    ),
  );
  fill(
    'models',
    [chip(`traffic over the last ${s.window_seconds} s`)],
    rows.length === 0
      ? [h('p', { class: 'notice info' }, 'No models.')]
      : [table(['Model', 'State', 'Req/s', 'Requests', 'In-flight', 'Last request', 'Idle', 'Sleeps'], rows, 'models')],
  );
}

/** Full explanations fetched on a click, kept across refreshes while the row stays listed. @type {Map<string, unknown>} */
const explained = new Map();
/** @type {Set<string>} */
const expanded = new Set();

/** @param {DecisionListJson} list */
function renderDecisions(list) {
  const ids = new Set(list.decisions.map((d) => d.request_id));
  for (const id of [...expanded]) {
    if (ids.has(id)) continue;
    expanded.delete(id);
    explained.delete(id);
  }
  /** @type {HTMLElement[]} */
  const rows = [];
  for (const d of list.decisions) {
    const row = h(
      'tr',
      { 'data-request-id': d.request_id, class: 'clickable', title: 'show the full explanation' },
      h('td', { title: d.at ?? undefined }, ago(d.at)),
      h('td', { class: 'mono small' }, d.request_id),
      h('td', {}, d.model),
      h('td', { class: 'mono endpoint' }, d.endpoint ?? '—'),
      h('td', { class: 'num' }, d.fallbacks.length),
      h('td', {}, d.strategy),
      h('td', { class: 'num' }, num(d.score, 3)),
      h('td', {}, d.affinity.kind === 'prefix' ? `prefix ${num(d.affinity.score, 2)}` : d.affinity.kind),
      h('td', { class: 'reasons' }, ...d.reasons.map(chip)),
      h('td', {}, `${d.tenant ?? 'guest'} · ${d.data_class}${d.pii.length > 0 ? ` · pii ${d.pii.join(',')}` : ''}`),
    );
    row.addEventListener('click', () => void toggle(d.request_id));
    rows.push(row);
    if (expanded.has(d.request_id)) rows.push(h('tr', { class: 'detail' }, h('td', { colspan: '10' }, explanation(explained.get(d.request_id)))));
  }
  fill(
    'decisions',
    [chip(`newest ${list.count} of the last ${list.capacity} kept`), h('span', { class: 'muted small' }, 'click a row for its full explanation')],
    rows.length === 0
      ? [h('p', { class: 'notice info' }, 'No decisions yet: send a request through Envoy.')]
      : [table(['When', 'Request', 'Model', 'Endpoint', 'Fallbacks', 'Strategy', 'Score', 'Affinity', 'Reasons', 'Tenant · class'], rows, 'decisions')],
  );
}

/** @param {string} id */
async function toggle(id) {
  if (expanded.has(id)) {
    expanded.delete(id);
  } else {
    expanded.add(id);
    const r = await getJson(`debug/decisions/${encodeURIComponent(id)}`);
    explained.set(id, r.kind === 'ok' ? r.data : r.kind === 'absent' ? 'no longer kept by kvfleet' : r.message);
  }
  if (last.decisions !== undefined) renderDecisions(last.decisions);
}

/** The full explanation (GET /debug/decisions/{id}): candidates and endpoints as assessed. @param {unknown} x */
function explanation(x) {
  if (x === undefined) return h('span', { class: 'muted' }, 'loading…');
  if (typeof x === 'string' || x === null || typeof x !== 'object') return h('span', { class: 'muted' }, String(x));
  const d = /** @type {Record<string, unknown>} */ (x);
  const candidates = Array.isArray(d['candidates']) ? /** @type {Array<Record<string, unknown>>} */ (d['candidates']) : [];
  const endpoints = Array.isArray(d['endpoint_details']) ? /** @type {Array<Record<string, unknown>>} */ (d['endpoint_details']) : [];
  const rejected = Array.isArray(d['rejected']) ? /** @type {Array<Record<string, unknown>>} */ (d['rejected']) : [];
  /** @param {unknown} v */
  const text = (v) => (v === null || v === undefined ? '—' : typeof v === 'number' ? String(Math.round(v * 1000) / 1000) : String(v));
  return h(
    'div',
    { class: 'explain' },
    h('h3', {}, 'Candidates'),
    table(
      ['Model', 'Total', 'Strategy score', 'Scores', 'Endpoint', 'TTFT est.'],
      candidates.map((c) => [
        text(c['model']),
        text(c['total']),
        text(c['strategy_score']),
        Object.entries(/** @type {Record<string, unknown>} */ (c['scores'] ?? {}))
          .map(([k, v]) => `${k} ${text(v)}`)
          .join(' · '),
        text(c['endpoint']),
        c['ttft_ms'] === null ? '—' : `${text(c['ttft_ms'])} ms`,
      ]),
    ),
    rejected.length > 0 ? h('p', {}, 'Left out: ', ...rejected.map((r) => chip(`${text(r['model'])}: ${text(r['reason'])}`))) : null,
    h('h3', {}, 'Endpoints as assessed'),
    table(
      ['Endpoint', 'Role', 'Healthy', 'In-flight', 'Matched blocks', 'Wait ms', 'Prefill ms', 'TTFT ms'],
      endpoints.map((e) => [
        text(e['address']),
        text(e['role']),
        text(e['healthy']),
        text(e['inflight']),
        text(e['matched_blocks']),
        text(e['wait_ms']),
        text(e['prefill_ms']),
        text(e['ttft_ms']),
      ]),
    ),
  );
}

/** @param {ShadowJson} r */
function renderShadow(r) {
  if (r.pairs.length === 0) {
    fill('shadow', [], [h('p', { class: 'notice info' }, 'No shadow pairs configured.')]);
    return;
  }
  /** @param {string} label @param {ShadowSide} s */
  const side = (label, s) => [
    label,
    h('td', { class: 'num' }, s.count),
    h('td', { class: 'num' }, `${s.errors}${s.count > 0 ? ` (${((100 * s.errors) / s.count).toFixed(1)} %)` : ''}`),
    h('td', { class: 'num' }, `${num(s.ttfb_ms_p50)} / ${num(s.ttfb_ms_p90)}`),
    h('td', { class: 'num' }, `${num(s.total_ms_p50)} / ${num(s.total_ms_p90)}`),
    h('td', { class: 'num' }, num(s.tokens_mean, 1)),
  ];
  const cards = r.pairs.map((p) =>
    h(
      'div',
      { class: 'pair', 'data-pair': `${p.model}→${p.candidate}` },
      h('h3', {}, p.model, ' → ', p.candidate),
      h(
        'p',
        { class: 'small' },
        chip(`sample ${(p.sample_rate * 100).toFixed(p.sample_rate < 0.01 ? 2 : 0)} %`),
        chip(`${p.sampled} sampled`),
        chip(`${p.mirrored} mirrored`),
        chip(`${p.skipped_policy} kept from the candidate by policy`),
        typeof p.skipped_asleep === 'number' && p.skipped_asleep > 0 ? chip(`${p.skipped_asleep} not sent: candidate asleep`) : null,
        typeof p.lost === 'number' && p.lost > 0 ? chip(`${p.lost} lost`) : null,
      ),
      table(
        ['', 'Responses', 'Errors', 'TTFB p50 / p90 ms', 'Total p50 / p90 ms', 'Tokens (mean)'],
        [side(`primary (${p.model})`, p.primary), side(`shadow (${p.candidate})`, p.shadow)],
      ),
    ),
  );
  fill('shadow', [chip(`${r.pairs.length} pair${r.pairs.length === 1 ? '' : 's'}`)], cards);
}

// ── the refresh loop ────────────────────────────────────────────────────────

/** The last good answers, kept on screen while kvfleet cannot be reached. @type {{ decisions?: DecisionListJson }} */
const last = {};
let paused = false;
let timer = 0;
let refreshes = 0;

const NOT_ENABLED = 'not enabled on this kvfleet';

async function refresh() {
  window.clearTimeout(timer);
  const [fleet, models, decisions, shadow] = await Promise.all([
    getJson('fleet'),
    getJson(`models/stats?window=${encodeURIComponent(String(WINDOW_S))}`),
    getJson(`debug/decisions?limit=${DECISIONS}`),
    getJson('shadow/report'),
  ]);
  /** @type {string[]} */
  const errors = [];
  if (fleet.kind === 'ok') renderFleet(/** @type {FleetJson} */ (fleet.data));
  else if (fleet.kind === 'absent') notice('fleet', `/fleet: ${NOT_ENABLED}`);
  else errors.push(fleet.message);
  if (models.kind === 'ok') renderModels(/** @type {ModelStatsJson} */ (models.data));
  else if (models.kind === 'absent') notice('models', `Traffic stats per model: ${NOT_ENABLED} (GET /models/stats answered 404).`);
  else errors.push(models.message);
  if (decisions.kind === 'ok') {
    last.decisions = /** @type {DecisionListJson} */ (decisions.data);
    renderDecisions(last.decisions);
  } else if (decisions.kind === 'absent') notice('decisions', `The list of recent decisions: ${NOT_ENABLED} (GET /debug/decisions answered 404).`);
  else errors.push(decisions.message);
  if (shadow.kind === 'ok') renderShadow(/** @type {ShadowJson} */ (shadow.data));
  else if (shadow.kind === 'absent') notice('shadow', `Shadow traffic: ${NOT_ENABLED} (GET /shadow/report answered 404).`);
  else errors.push(shadow.message);

  refreshes += 1;
  document.body.dataset['refreshes'] = String(refreshes);
  const status = document.getElementById('status');
  if (status !== null) {
    status.className = `status ${errors.length > 0 ? 'bad' : 'good'}`;
    status.textContent =
      errors.length > 0
        ? `cannot reach kvfleet: ${errors[0] ?? ''}${errors.length > 1 ? ` (+${errors.length - 1} more)` : ''}; showing the last answers`
        : 'live';
  }
  const updated = document.getElementById('updated');
  if (updated !== null) updated.textContent = `updated ${new Date().toLocaleTimeString()}${REFRESH_S > 0 ? ` · every ${REFRESH_S} s` : ' · refresh off'}`;
  schedule();
}

function schedule() {
  if (!paused && REFRESH_S > 0) timer = window.setTimeout(() => void refresh(), REFRESH_S * 1000);
}

const pause = document.getElementById('pause');
if (pause !== null) {
  if (REFRESH_S === 0) pause.textContent = 'Refresh';
  pause.addEventListener('click', () => {
    if (REFRESH_S === 0) {
      void refresh();
      return;
    }
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
    if (paused) window.clearTimeout(timer);
    else void refresh();
  });
}

void refresh();

// A module to the type checker too (its top-level names are its own, not the window's).
export {};
