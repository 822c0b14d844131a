// The PromQL that deploy/ ships (Grafana dashboard, Prometheus alerting rules) and the metric
// references in it, for the tests that check them with promtool and against a real daemon.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const DEPLOY_DIR = fileURLToPath(new URL('../../deploy/', import.meta.url));
export const ALERT_RULES = `${DEPLOY_DIR}prometheus/portcullis-alerts.yml`;
export const ALERT_RULE_TESTS = `${DEPLOY_DIR}prometheus/portcullis-alerts.test.yml`;
export const DASHBOARD = `${DEPLOY_DIR}grafana/portcullis-dashboard.json`;

export interface Query { where: string; expr: string }

interface DashboardPanel { id?: number; title?: string; type?: string; targets?: { expr?: string }[]; panels?: DashboardPanel[] }

/** Every target expression of the dashboard, named by its panel. */
export function dashboardQueries(): Query[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: DashboardPanel[] };
  const panels = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
  return panels.flatMap((panel) => (panel.targets ?? []).map((target, index) => ({
    where: `dashboard panel "${panel.title}" target ${index}`,
    expr: target.expr ?? '',
  })));
}

/** Every alert's expression, named by the alert. */
export function alertQueries(): Query[] {
  const rules = parse(readFileSync(ALERT_RULES, 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] };
  return rules.groups.flatMap((group) => group.rules.map((rule) => ({ where: `alert ${rule.alert}`, expr: String(rule.expr) })));
}

/**
 * A dashboard query as plain PromQL: Grafana's variables replaced by what they stand for
 * ($__rate_interval by a range, $instance by "every instance").
 */
export function plainPromql(expr: string): string {
  return expr.replaceAll('$__rate_interval', '5m').replaceAll('$instance', '.*');
}

export interface MetricReference {
  name: string;
  /** label = one of values: from `label="v"` and from `label=~"a|b|c"` (plain alternatives only). */
  labels: [label: string, values: string[]][];
}

/** The portcullis_* metrics an expression reads, with the label values it selects. */
export function metricReferences(expr: string): MetricReference[] {
  const references: MetricReference[] = [];
  for (const match of expr.matchAll(/\b(portcullis_[a-z0-9_]+)(\{([^}]*)\})?/g)) {
    const labels: [string, string[]][] = [];
    for (const matcher of (match[3] ?? '').matchAll(/([a-z_]+)\s*(=~|=)\s*"([^"]*)"/g)) {
      const [, label, operator, value] = matcher as unknown as [string, string, string, string];
      if (label === 'instance' || label === 'job') continue;  // the scrape's labels, not the daemon's
      if (operator === '=') labels.push([label, [value]]);
      else if (/^[a-z0-9_]+(\|[a-z0-9_]+)*$/.test(value)) labels.push([label, value.split('|')]);
      else throw new Error(`${match[0]}: regex matcher ${label}=~"${value}" is not a plain list of values; extend metricReferences`);
    }
    references.push({ name: match[1]!, labels });
  }
  return references;
}

/** Commands the deploy/ and package tests run, by Debian package (scripts/setup.sh installs them). */
export const DEPLOY_TOOLS = {
  promtool: 'prometheus', logrotate: 'logrotate', 'dpkg-deb': 'dpkg', 'dpkg-shlibdeps': 'dpkg-dev', 'systemd-analyze': 'systemd',
};
