// A lab test never passes quietly for want of a tool: requireTool throws naming the command and
// its package, and scripts/setup.sh (which CI runs as root) installs every package the tests need.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { repoRoot } from '../../src/api/proto.js';
import { CLUSTER_LAB_TOOLS } from '../support/cluster-lab.js';
import { LAB_TOOLS, requireTool } from '../support/e2e-lab.js';
import { QUIC_LAB_TOOLS } from '../support/quic-lab.js';
import { DEPLOY_TOOLS } from '../support/deploy-queries.js';

/** Commands the api suites run besides the lab's (test/api/certificates.ts, test/api/pcadm.test.ts). */
const API_TOOLS = { openssl: 'openssl', script: 'bsdutils' };

function setupPackages(): string[] {
  const setup = readFileSync(join(repoRoot(), 'scripts', 'setup.sh'), 'utf8');
  const list = /APT_PACKAGES=\(([^)]*)\)/.exec(setup);
  if (!list) throw new Error('scripts/setup.sh has no APT_PACKAGES=( … ) list');
  return list[1]!.split(/\s+/).filter(Boolean);
}

test('a missing tool is an error naming the command and its package', () => {
  assert.throws(() => requireTool('pc-no-such-tool', 'pc-no-such-package', '/nonexistent'),
    (error: Error) => error.message === 'pc-no-such-tool is not installed: apt-get install pc-no-such-package (scripts/setup.sh installs it)');
});

test('a present tool resolves to its path', () => {
  assert.match(requireTool('sh', 'dash'), /\/sh$/);
});

test('scripts/setup.sh installs the package of every tool the tests run', () => {
  const installed = new Set(setupPackages());
  const missing = Object.entries({ ...LAB_TOOLS, ...CLUSTER_LAB_TOOLS, ...QUIC_LAB_TOOLS, ...API_TOOLS, ...DEPLOY_TOOLS }).filter(([, pkg]) => !installed.has(pkg)).map(([tool, pkg]) => `${tool} (${pkg})`);
  assert.equal(missing, [], `add to APT_PACKAGES in scripts/setup.sh: ${missing.join(', ')}`);
});

test.run();
