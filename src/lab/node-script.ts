// How to start one of our TypeScript modules as a separate node process
// (lab servers, test clients inside namespaces). Built code runs the sibling
// .js file from dist/. Code running from source under tsx (the test runner)
// runs the module's built .js from dist/ when dist/ is the build of the current
// source (build-freshness.ts: it starts in half the time), else the sibling .ts
// file through tsx's loader, resolved to an absolute path so the child's
// working directory does not matter.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildIsCurrent } from './build-freshness.js';

/**
 * Returns the argv (node binary first) that runs `<baseName>.js|.ts` from the
 * directory of `callerUrl` (pass `import.meta.url`), in the caller's flavour.
 */
export function nodeScriptArgv(callerUrl: string, baseName: string): string[] {
  const runningFromSource = callerUrl.endsWith('.ts');
  const scriptPath = fileURLToPath(new URL(`./${baseName}${runningFromSource ? '.ts' : '.js'}`, callerUrl));
  if (!runningFromSource) return [process.execPath, scriptPath];
  const built = currentBuiltSibling(scriptPath);
  if (built) return [process.execPath, built];
  const tsxLoader = createRequire(callerUrl).resolve('tsx');
  return [process.execPath, '--import', pathToFileURL(tsxLoader).href, scriptPath];
}

/** dist/<path>.js of a source file when dist/ is current and holds it (tsc builds src/ and bench/ only). */
function currentBuiltSibling(sourcePath: string): string | undefined {
  const root = repositoryRoot(sourcePath);
  if (root === undefined || !buildIsCurrent(root)) return undefined;
  const built = join(root, 'dist', relative(root, sourcePath).replace(/\.ts$/, '.js'));
  return existsSync(built) ? built : undefined;
}

function repositoryRoot(path: string): string | undefined {
  for (let dir = dirname(path); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'tsconfig.json'))) return dir;
  }
  return undefined;
}
