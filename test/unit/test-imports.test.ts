// Every test file takes suite/test from test/support/suite.ts, whose hooks cannot fail silently
// (uvu 0.5.6's own hooks swallow exceptions: a broken set-up would make its tests vanish while
// the run stays green). Only the wrapper itself may import 'uvu'; 'uvu/assert' is fine anywhere.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { repoRoot } from '../../src/api/proto.js';

const WRAPPER = 'test/support/suite.ts';
const THIS_FILE = 'test/unit/test-imports.test.ts'; // its examples are direct imports
/** import … from 'uvu', import 'uvu', import('uvu'), require('uvu') — not 'uvu/assert'. */
const DIRECT_UVU = /(?:from\s*|import\s*\(?\s*|require\s*\(\s*)['"]uvu['"]/;

function typescriptFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return typescriptFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

test('no file under test/ but the wrapper imports uvu directly', () => {
  const root = repoRoot();
  const files = typescriptFiles(join(root, 'test')).map((file) => relative(root, file));
  assert.ok(files.length > 60, `found only ${files.length} files under test/`);
  const offenders = files.filter((file) => file !== WRAPPER && file !== THIS_FILE && DIRECT_UVU.test(readFileSync(join(root, file), 'utf8')));
  assert.equal(offenders, [], `import { suite, test } from '../support/suite.js' instead of 'uvu' in: ${offenders.join(', ')}`);
});

test('the check recognises the forms of a direct import', () => {
  for (const line of ["import { test } from 'uvu';", 'import { suite } from "uvu";', "const uvu = await import('uvu');", "require('uvu')"]) {
    assert.ok(DIRECT_UVU.test(line), line);
  }
  for (const line of ["import * as assert from 'uvu/assert';", "import { test } from '../support/suite.js';"]) {
    assert.not.ok(DIRECT_UVU.test(line), line);
  }
});

test.run();
