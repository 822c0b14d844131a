// deploy/: the Prometheus alerting rules pass promtool's checks and its unit tests (alerts that
// must fire and must not, deploy/prometheus/portcullis-alerts.test.yml), and every query of the
// Grafana dashboard is valid PromQL (promtool parses it as a rule). That every metric they read
// exists in a real daemon's /metrics is test/api/deploy-metrics.test.ts.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { stringify } from 'yaml';
import { requireTool } from '../support/e2e-lab.js';
import { test } from '../support/suite.js';
import { ALERT_RULES, ALERT_RULE_TESTS, DASHBOARD, alertQueries, dashboardQueries, metricReferences, plainPromql } from '../support/deploy-queries.js';

function promtool(args: string[]): { code: number; output: string } {
  const command = requireTool('promtool', 'prometheus');
  try {
    return { code: 0, output: execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (error) {
    const failed = error as { status: number; stdout: string; stderr: string };
    return { code: failed.status, output: `${failed.stdout}${failed.stderr}` };
  }
}

test('promtool check rules: the alerting rules are valid', () => {
  const { code, output } = promtool(['check', 'rules', ALERT_RULES]);
  assert.is(code, 0, output);
  assert.match(output, /SUCCESS: 10 rules found/);
});

test('promtool test rules: each alert fires when it should and not before', () => {
  const { code, output } = promtool(['test', 'rules', ALERT_RULE_TESTS]);
  assert.is(code, 0, output);
  assert.match(output, /SUCCESS/);
});

test('the alerts asked for are there, each with a severity and a summary', () => {
  const rules = alertQueries().map((q) => q.where.replace('alert ', ''));
  for (const name of ['PortcullisDown', 'PortcullisDropsRising', 'PortcullisSynproxyEngaged', 'PortcullisConnTableNearlyFull',
    'PortcullisLinkDown', 'PortcullisRealServerFlapping', 'PortcullisBgpSessionDown']) assert.ok(rules.includes(name), `missing alert ${name}`);
  const text = readFileSync(ALERT_RULES, 'utf8');
  assert.is((text.match(/severity: (critical|warning)/g) ?? []).length, rules.length, 'every alert has a severity');
  assert.is((text.match(/summary: /g) ?? []).length, rules.length, 'every alert has a summary');
});

test('the dashboard: every panel has a unique id and a grid place; every query is valid PromQL', () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { uid: string; panels: { id: number; gridPos?: object; type: string }[] };
  assert.is(dashboard.uid, 'portcullis-overview');
  const ids = dashboard.panels.map((p) => p.id);
  assert.is(new Set(ids).size, ids.length, 'panel ids are unique');
  for (const panel of dashboard.panels) assert.ok(panel.gridPos, `panel ${panel.id} has a gridPos`);
  const queries = dashboardQueries();
  assert.ok(queries.length >= 15, `${queries.length} queries`);
  // promtool parses every expression when it checks a rule file: one recording rule per query.
  const dir = mkdtempSync(join(tmpdir(), 'pc-dashboard-'));
  try {
    const file = join(dir, 'dashboard-queries.yml');
    writeFileSync(file, stringify({
      groups: [{ name: 'dashboard', rules: queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: plainPromql(q.expr) })) }],
    }));
    const { code, output } = promtool(['check', 'rules', file]);
    assert.is(code, 0, `${output}\n${queries.map((q, i) => `query_${i}: ${q.where}: ${q.expr}`).join('\n')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the dashboard covers what operators asked for', () => {
  const read = new Set(dashboardQueries().flatMap((q) => metricReferences(q.expr).map((r) => r.name)));
  for (const name of ['portcullis_service_in_bytes_total', 'portcullis_drops_total', 'portcullis_service_synproxy_engaged_workers',
    'portcullis_connections', 'portcullis_connection_capacity', 'portcullis_port_link_up', 'portcullis_real_server_up',
    'portcullis_worker_busy_ratio', 'portcullis_bgp_peer_established']) assert.ok(read.has(name), `no panel reads ${name}`);
});

test('metricReferences: names, equality and alternative label matchers; scrape labels ignored', () => {
  assert.equal(metricReferences('sum(rate(portcullis_drops_total{instance=~"$instance",reason=~"a_b|c"}[5m])) / portcullis_x'), [
    { name: 'portcullis_drops_total', labels: [['reason', ['a_b', 'c']]] },
    { name: 'portcullis_x', labels: [] },
  ]);
  assert.throws(() => metricReferences('portcullis_y{reason=~"a.*"}'), /not a plain list/);
});

test.run();
