// How to start one of our TypeScript modules as a separate node process
// (lab servers, test clients inside namespaces). Built code runs the sibling
// .js file from dist/; code running from source under tsx (the test runner)
// runs the sibling .ts file through tsx's loader, resolved to an absolute
// path so the child's working directory does not matter.

import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Returns the argv (node binary first) that runs `<baseName>.js|.ts` from the
 * directory of `callerUrl` (pass `import.meta.url`), in the caller's flavour.
 */
export function nodeScriptArgv(callerUrl: string, baseName: string): string[] {
  const runningFromSource = callerUrl.endsWith('.ts');
  const scriptPath = fileURLToPath(new URL(`./${baseName}${runningFromSource ? '.ts' : '.js'}`, callerUrl));
  if (!runningFromSource) return [process.execPath, scriptPath];
  const tsxLoader = createRequire(callerUrl).resolve('tsx');
  return [process.execPath, '--import', pathToFileURL(tsxLoader).href, scriptPath];
}
