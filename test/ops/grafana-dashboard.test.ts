// The Grafana dashboard (docs/grafana/tessera.json, issue #14): it parses, its panels are well formed, and
// every metric its PromQL names is one a real server's /_tessera/metrics declares, so a renamed metric
// cannot leave a panel silently empty.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot, startTesseraForFile } from '../helpers/tessera.js';

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: { refId: string; expr: string }[];
}

const dashboard = JSON.parse(await readFile(join(repoRoot, 'docs', 'grafana', 'tessera.json'), 'utf8')) as { title: string; uid: string; panels: Panel[] };
const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

/** Every metric a page declares (its `# TYPE` lines), histograms with their _bucket, _sum and _count series. */
function declaredMetrics(page: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of page.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
  }
  return names;
}

test('grafana dashboard - panels have unique ids, fit the 24-column grid and each has a PromQL target', () => {
  assert.equal(dashboard.uid, 'tessera-overview');
  const ids = dashboard.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length);
  for (const p of dashboard.panels) {
    assert.ok(p.gridPos.x >= 0 && p.gridPos.x + p.gridPos.w <= 24, `panel "${p.title}" fits the grid`);
    if (p.type !== 'row') assert.ok((p.targets ?? []).length > 0 && p.targets!.every((t) => t.expr.trim() !== ''), `panel "${p.title}" has a query`);
  }
  assert.ok(exprs.length >= 20);
});

test('grafana dashboard - every metric its queries use exists in a real server\'s metrics', async () => {
  const token = 'grafana-dashboard-token-01';
  const { server } = await startTesseraForFile({ env: { TESSERA_METRICS_TOKEN: token } });
  const res = await fetch(`${server.url}/_tessera/metrics`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  const declared = declaredMetrics(await res.text());
  const used = new Set<string>();
  for (const { panel, expr } of exprs) {
    const names = expr.match(/\btessera_[a-z0-9_]+/g) ?? [];
    assert.ok(names.length > 0, `panel "${panel}" queries a Tessera metric: ${expr}`);
    for (const name of names) {
      used.add(name);
      assert.ok(declared.has(name), `panel "${panel}" uses "${name}", which the server does not export`);
    }
  }
  // The families the issue asks the dashboard to show.
  for (const name of ['tessera_s3_requests_total', 'tessera_s3_request_duration_seconds_bucket', 'tessera_s3_received_bytes_total', 'tessera_s3_sent_bytes_total',
    'tessera_bucket_bytes', 'tessera_cluster_drives', 'tessera_rebalance_blocks_remaining', 'tessera_heal_blocks_checked',
    'tessera_meta_commit_duration_seconds_bucket', 'tessera_event_loop_delay_seconds']) {
    assert.ok(used.has(name), `the dashboard shows ${name}`);
  }
});
