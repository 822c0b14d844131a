// How the lab suites start their own helper scripts (the namespace client, the restart traffic
// client) in a child process. nodeScriptArgv (src/lab/node-script.ts) runs a .ts sibling through
// tsx's loader: 2.0 s a start against 0.5 s for plain node on the busy 2-core box, and the e2e
// suites start the namespace client from some 80 places, many in loops. These scripts import
// node: modules only, so they need no loader: each is transpiled once per test process (the
// TypeScript compiler drops the types and changes nothing else) and run by plain node.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { nodeScriptArgv } from '../../src/lab/node-script.js';

let folder: string | undefined;
const transpiled = new Map<string, string>();

/** The module specifiers a transpiled script still imports (types are gone by then). */
export function importedModules(javascript: string): string[] {
  const specifiers = [...javascript.matchAll(/\b(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map((match) => match[1]!);
  return [...new Set(specifiers)];
}

/** Plain JavaScript for a TypeScript script that imports node: modules only; throws naming any other import. */
export function transpileTool(source: string, name: string): string {
  const javascript = ts.transpileModule(source, {
    fileName: name,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false },
  }).outputText;
  const foreign = importedModules(javascript).filter((specifier) => !specifier.startsWith('node:'));
  if (foreign.length > 0) throw new Error(`${name} imports ${foreign.join(', ')}: only node: modules run without tsx's loader (use nodeScriptArgv)`);
  return javascript;
}

/**
 * The argv (node binary first) running `<baseName>.ts` beside `callerUrl` as plain JavaScript;
 * from built code (a .js caller) the same as nodeScriptArgv.
 */
export function plainNodeToolArgv(callerUrl: string, baseName: string): string[] {
  if (!callerUrl.endsWith('.ts')) return nodeScriptArgv(callerUrl, baseName);
  const sourcePath = fileURLToPath(new URL(`./${baseName}.ts`, callerUrl));
  let scriptPath = transpiled.get(sourcePath);
  if (!scriptPath) {
    if (!folder) {
      const made = mkdtempSync(join(tmpdir(), 'pc-tools-'));
      folder = made;
      process.once('exit', () => rmSync(made, { recursive: true, force: true }));
    }
    scriptPath = join(folder, `${baseName}.mjs`);
    writeFileSync(scriptPath, transpileTool(readFileSync(sourcePath, 'utf8'), `${baseName}.ts`));
    transpiled.set(sourcePath, scriptPath);
  }
  return [process.execPath, scriptPath];
}
