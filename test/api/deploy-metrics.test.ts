// Every metric the shipped dashboard and alerting rules read (deploy/) exists in a REAL daemon's
// /metrics, with the label values they select (a drop reason, an event): a renamed metric or a
// misspelt reason would otherwise leave a panel empty or an alert silent forever. The daemon runs
// as a cluster member (a managed gobgpd, whose one peer never answers) with a health-checked
// SYNPROXY-auto service, so the BGP, health and SYNPROXY families are there too. Its ports are
// its own (exception interfaces pcx-dmo / pcx-dmi) and so are its ports numbers: gobgpd API
// 50941, BGP 17940, ownership sync 7956; metrics on a free port.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { requireTool } from '../support/e2e-lab.js';
import { test } from '../support/suite.js';
import { alertQueries, dashboardQueries, metricReferences, type Query } from '../support/deploy-queries.js';
import { startDaemon, testConfig, withDaemonOutput } from './daemon.js';

const SERVICES = `
  - name: web
    protocol: tcp
    vip: 198.18.78.10
    port: 80
    synproxy: auto
    local_addresses: [198.19.78.200]
    health_check: { kind: tcp, interval_ms: 1000, timeout_ms: 500, rise: 1, fall: 1 }
    passive_health: { rate: 10 }
    servers:
      - { address: 198.19.78.1, port: 80, weight: 1 }
`;

async function clusterConfig(dir: string): Promise<string> {
  const key = join(dir, 'cluster.key');
  await writeFile(key, 'k'.repeat(48), { mode: 0o600 });
  const text = testConfig(dir, SERVICES)
    .replace('- { name: outside, device: ring, addresses: [198.18.0.254/24] }', '- { name: dmo, device: ring, addresses: [198.18.78.254/24], exception_path: true }')
    .replace('- { name: inside, device: ring, addresses: [198.19.0.254/24] }', '- { name: dmi, device: ring, addresses: [198.19.78.254/24], exception_path: true }')
    .replace(/^services:/m, `metrics: { listen: "127.0.0.1:0" }
cluster:
  node: gw1
  nodes: [{ name: gw1, address: 198.18.78.254 }, { name: gw2, address: 198.18.78.253 }]
  sync: { key_file: ${key}, port: 7956 }
  bgp:
    speaker: managed
    api: 127.0.0.1:50941
    asn: 65010
    router_id: 198.18.78.254
    listen_port: 17940
    peers:
      - { address: 127.0.0.2, asn: 65000, hold_time: 3, announce: [vips, lips], port: 17941 }
services:`);
  const path = join(dir, 'config.yaml');
  await writeFile(path, text);
  return path;
}

/** metric name -> label -> values seen, from the exposition text. */
function exposed(text: string): Map<string, Map<string, Set<string>>> {
  const metrics = new Map<string, Map<string, Set<string>>>();
  for (const line of text.split('\n')) {
    const match = /^([a-z_:][a-z0-9_:]*)(\{(.*)\})? /.exec(line);
    if (!match) continue;
    const labels = metrics.get(match[1]!) ?? new Map<string, Set<string>>();
    metrics.set(match[1]!, labels);
    for (const pair of (match[3] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)) {
      const values = labels.get(pair[1]!) ?? new Set<string>();
      labels.set(pair[1]!, values);
      values.add(pair[2]!);
    }
  }
  return metrics;
}

/** What a query reads that the daemon does not expose, one line each. */
function missing(queries: Query[], metrics: Map<string, Map<string, Set<string>>>): string[] {
  const problems: string[] = [];
  for (const query of queries) {
    for (const reference of metricReferences(query.expr)) {
      const labels = metrics.get(reference.name);
      if (!labels) { problems.push(`${query.where}: ${reference.name} is not in /metrics`); continue; }
      for (const [label, values] of reference.labels) {
        for (const value of values) {
          if (!labels.get(label)?.has(value)) problems.push(`${query.where}: ${reference.name}{${label}="${value}"} is not in /metrics`);
        }
      }
    }
  }
  return problems;
}

test('every metric and label value the dashboard and the alerts read is in a real daemon\'s /metrics', async () => {
  requireTool('gobgpd', 'gobgpd');
  const dir = await mkdtemp(join(tmpdir(), 'pc-deploy-metrics-'));
  try {
    const daemon = await startDaemon(['--config', await clusterConfig(dir)]);
    try {
      const address = /serving Prometheus metrics on (http:\/\/\S+)/.exec(daemon.output())?.[1];
      assert.ok(address, 'the daemon says where it serves metrics');
      const metrics = exposed(await (await fetch(address!)).text());
      const queries = [...dashboardQueries(), ...alertQueries()];
      const references = queries.flatMap((q) => metricReferences(q.expr));
      assert.ok(references.length >= 25, `${references.length} metric references found`);
      assert.equal(missing(queries, metrics), []);
    } catch (error) {
      throw withDaemonOutput(error, daemon);
    } finally {
      await daemon.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the check itself: a misspelt metric or label value is reported', () => {
  const metrics = exposed('portcullis_drops_total{reason="no_service"} 0\nportcullis_connections 0\n');
  assert.equal(missing([{ where: 'q', expr: 'rate(portcullis_drops_total{reason=~"no_service|no_servce"}[5m]) + portcullis_conections' }], metrics), [
    'q: portcullis_drops_total{reason="no_servce"} is not in /metrics',
    'q: portcullis_conections is not in /metrics',
  ]);
});

test.run();
