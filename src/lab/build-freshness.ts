// Whether code running from source (under tsx: the test runner) may start the built JavaScript of a
// module instead. Through tsx's loader a node start costs more than the built code: on the busy
// 2-core box a daemon was ready in 6.1-7.6 s against 3.9-5.5 s, a CLI call took 3.5-4.0 s against
// 1.5-2.7 s, and the lab's three real servers were up in 6.0 s against 3.3 s; the api suites start
// the daemon or the CLI from some 130 places and every lab suite starts the servers. The built code
// is used only when it is the source's: dist/.build-stamp (touched by scripts/setup.sh after
// `npm run build:ts`) newer than every file it was built from. Anything newer, no stamp, or
// PORTCULLIS_TEST_FROM_SOURCE=1: from source.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** What `npm run build:ts` reads (setup.sh's list). */
const BUILD_INPUTS = ['src', 'bench', 'proto', 'tsconfig.json', 'package.json'];
export const BUILT_CLI = 'dist/src/cli/portcullis.js';
const BUILD_STAMP = 'dist/.build-stamp';

/** The first build input under root newer than the stamp, or undefined when there is none. */
export function newerThanBuild(root: string): string | undefined {
  const stamp = statSync(join(root, BUILD_STAMP)).mtimeMs;
  for (const input of BUILD_INPUTS) {
    const path = join(root, input);
    if (!existsSync(path)) continue;
    const files = statSync(path).isDirectory()
      ? readdirSync(path, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name))
      : [path];
    const newer = files.find((file) => statSync(file).mtimeMs > stamp);
    if (newer) return newer;
  }
  return undefined;
}

const decided = new Map<string, boolean>();

/** Whether dist/ under root is the build of its current source. Decided once per process and root. */
export function buildIsCurrent(root: string): boolean {
  if (!decided.has(root)) {
    decided.set(root, process.env.PORTCULLIS_TEST_FROM_SOURCE !== '1'
      && existsSync(join(root, BUILD_STAMP)) && newerThanBuild(root) === undefined);
  }
  return decided.get(root)!;
}

/** The built CLI's absolute path when dist/ is current for root, else undefined (run from source). */
export function currentBuiltCli(root: string): string | undefined {
  return buildIsCurrent(root) && existsSync(join(root, BUILT_CLI)) ? join(root, BUILT_CLI) : undefined;
}
