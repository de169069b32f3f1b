// deploy/grafana/kvfleet-dashboard.json against the metrics kvfleet really exports: every
// panel query names only series of the process registry (obs/metrics.ts and the fleet-state
// metrics, histograms with their _bucket/_sum/_count), so a renamed metric cannot leave an
// empty panel behind; and the dashboard is well formed (ids, layout, the datasource variable).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createFleetStateMetrics } from '../../src/fleet/fleet-state-metrics.js';
import { LiveEndpoints } from '../../src/fleet/live-endpoints.js';
import { createMetrics } from '../../src/obs/metrics.js';
import { REPO_ROOT } from '../helpers/envoy.js';

interface Target {
  refId: string;
  expr: string;
  datasource?: { uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query: unknown }> };
}

const dashboard = JSON.parse(readFileSync(join(REPO_ROOT, 'deploy', 'grafana', 'kvfleet-dashboard.json'), 'utf8')) as Dashboard;

/** Every series name the process exposes on /metrics. */
function exportedSeries(): Set<string> {
  const m = createMetrics();
  createFleetStateMetrics(m.registry, new LiveEndpoints(), () => []);
  const names = new Set<string>();
  for (const metric of m.registry.getMetricsAsArray()) {
    const { name } = metric;
    const type = (metric as unknown as { type: string }).type;
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan']);

/** Metric names a PromQL expression selects: identifiers left once label matchers, ranges, label lists and function calls are taken out. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // string literals
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // ranges and subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' '); // label lists
  const out: string[] = [];
  for (const m of bare.matchAll(/(?<![\w$.:])[A-Za-z_:][\w:]*(?![\w:])(?!\s*\()/g)) {
    if (!KEYWORDS.has(m[0].toLowerCase())) out.push(m[0]);
  }
  return out;
}

const queryPanels = dashboard.panels.filter((p) => p.type !== 'row');

describe('the Grafana dashboard (deploy/grafana/kvfleet-dashboard.json)', () => {
  it('reads metric names out of PromQL the way the check below relies on', () => {
    expect(
      metricNames('sum by (model, le) (rate(a_b_bucket{x="y",le=~"1.*"}[5m])) / ignoring(affinity) group_left sum(rate(c_total[$__rate_interval])) * 3600'),
    ).toEqual(['a_b_bucket', 'c_total']);
    expect(metricNames('histogram_quantile(0.9, sum by (le) (rate(x_bucket[1m]))) > bool 0.5 and on (instance) up')).toEqual(['x_bucket', 'up']);
  });

  it('every panel query names only series kvfleet exports', () => {
    const series = exportedSeries();
    const unknown: string[] = [];
    let checked = 0;
    for (const p of queryPanels) {
      expect(p.targets?.length ?? 0, `panel "${p.title}" has no query`).toBeGreaterThan(0);
      for (const t of p.targets ?? []) {
        const names = metricNames(t.expr);
        expect(names.length, `"${p.title}" ${t.refId}: no metric in ${t.expr}`).toBeGreaterThan(0);
        for (const n of names) {
          checked++;
          if (!series.has(n)) unknown.push(`"${p.title}" ${t.refId}: ${n}`);
        }
      }
    }
    expect(unknown).toEqual([]);
    expect(checked).toBeGreaterThan(30);
  });

  it('is well formed: unique ids, panels inside the 24-column grid without overlaps, the datasource and instance variables', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      const g = p.gridPos;
      expect(g.x + g.w, p.title).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          const k = `${x},${y}`;
          expect(cells.has(k), `"${p.title}" overlaps at ${k}`).toBe(false);
          cells.add(k);
        }
      }
    }
    expect(dashboard.templating.list.map((v) => [v.name, v.type])).toEqual([
      ['datasource', 'datasource'],
      ['instance', 'query'],
    ]);
    for (const p of queryPanels) {
      expect(p.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(new Set(p.targets?.map((t) => t.refId)).size).toBe(p.targets?.length);
      for (const t of p.targets ?? []) expect(t.expr, p.title).toContain('instance=~"$instance"');
    }
  });
});
