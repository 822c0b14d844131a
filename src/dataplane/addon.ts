// The only module that loads the native data plane (build/Release/portcullis_dataplane.node),
// plus the EAL argument rule from DESIGN.md §3 (hugepages → --in-memory, else --no-huge).
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DataplaneAddon } from './types.js';

const ADDON_RELATIVE_PATH = join('build', 'Release', 'portcullis_dataplane.node');

/** The repository root: the nearest ancestor of this file holding package.json (works from src/ and dist/src/). */
function findRepoRoot(start: string): string | undefined {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

let cached: DataplaneAddon | undefined;

/**
 * Loads the addon once per process. Throws one Error (code 'ADDON_LOAD_FAILED')
 * whose message lists the likely causes and their fixes.
 */
export function loadDataplane(): DataplaneAddon {
  if (cached) return cached;
  const here = dirname(fileURLToPath(import.meta.url));
  const root = findRepoRoot(here);
  // PORTCULLIS_ADDON_PATH: load another build (sanitizer build, a build dir outside the repo).
  const addonPath =
    process.env['PORTCULLIS_ADDON_PATH'] ?? (root ? join(root, ADDON_RELATIVE_PATH) : ADDON_RELATIVE_PATH);
  const require = createRequire(import.meta.url);
  try {
    cached = require(addonPath) as DataplaneAddon;
    return cached;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    const notBuilt = !existsSync(addonPath);
    const lines = [
      `cannot load the Portcullis data plane addon (${addonPath}): ${reason}`,
      'Likely causes and fixes:',
      notBuilt
        ? '  - the addon is not built: run `npm run build:addon` (needs cmake, g++ and libdpdk-dev)'
        : '  - the addon is stale or built for another Node: run `npm run build:addon` again',
      '  - DPDK libraries are missing (e.g. "librte_*.so: cannot open shared object file"): ' +
        '`apt-get install -y libdpdk-dev pkg-config`, or run `bash scripts/setup.sh`',
      '  - starting the data plane later needs root (or CAP_NET_ADMIN/CAP_IPC_LOCK) and, for best ' +
        'performance, hugepages: `echo 1024 > /proc/sys/vm/nr_hugepages` (setup.sh does this when it can)',
    ];
    const error = new Error(lines.join('\n')) as Error & { code: string; cause?: unknown };
    error.code = 'ADDON_LOAD_FAILED';
    error.cause = err;
    throw error;
  }
}

export interface EalArgsOptions {
  /** EAL lcores, e.g. "0-1" (-l) or "0@0,(1-3)@1" (--lcores): main lcore first, then workers. */
  lcores: string;
  /** Memory for DPDK in MiB (mempools, rings, tables). */
  memoryMb: number;
  /** 'auto': use hugepages when enough are free; 'on': require them; 'off': never. */
  hugepages: 'auto' | 'on' | 'off';
  /** EAL --log-level value; default keeps EAL quiet ("*:warning" style, see below). */
  logLevel?: string;
  /** Pass --no-pci (default true: ports are vdevs unless real NICs are configured). */
  noPci?: boolean;
  /** For tests: the /proc/meminfo text to read instead of the real one. */
  meminfo?: string;
}

const HUGEPAGE_MB = 2;

/** Free 2 MiB hugepages according to /proc/meminfo (0 when unreadable or another page size). */
export function freeHugepages(meminfo?: string): number {
  let text = meminfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/meminfo', 'utf8');
    } catch {
      return 0;
    }
  }
  const size = /^Hugepagesize:\s+(\d+)\s+kB/m.exec(text);
  if (size && Number(size[1]) !== HUGEPAGE_MB * 1024) return 0;
  const free = /^HugePages_Free:\s+(\d+)/m.exec(text);
  return free ? Number(free[1]) : 0;
}

/**
 * EAL arguments (after argv[0]) following DESIGN.md: with enough free hugepages
 * `--in-memory -m <MB>`, else `--no-huge -m <MB> --no-shconf` (DPDK 22.11 cannot combine
 * --in-memory with --no-huge) and a note saying so. `note` is '' when there is nothing to say.
 */
export function ealArgs(opts: EalArgsOptions): { args: string[]; note: string } {
  if (!Number.isInteger(opts.memoryMb) || opts.memoryMb < 16) {
    throw new RangeError(`ealArgs: memoryMb: expected an integer >= 16, got ${String(opts.memoryMb)}`);
  }
  if (typeof opts.lcores !== 'string' || opts.lcores.length === 0) {
    throw new RangeError(`ealArgs: lcores: expected an EAL -l list like "0-1", got ${JSON.stringify(opts.lcores)}`);
  }
  // A plain list ("0-2") is -l; a map of lcores to CPUs ("0@0,(1-3)@1": several workers
  // sharing a CPU) needs --lcores, which -l does not parse.
  const args: string[] = /^[0-9,-]+$/.test(opts.lcores) ? ['-l', opts.lcores] : [`--lcores=${opts.lcores}`];
  let note = '';
  const needed = Math.ceil(opts.memoryMb / HUGEPAGE_MB);
  const free = opts.hugepages === 'off' ? 0 : freeHugepages(opts.meminfo);
  const useHuge = opts.hugepages !== 'off' && free >= needed;
  if (opts.hugepages === 'on' && !useHuge) {
    throw new RangeError(
      `ealArgs: hugepages: 'on' needs ${needed} free 2 MiB hugepages for ${opts.memoryMb} MiB, ` +
        `/proc/meminfo has ${free} (echo 1024 > /proc/sys/vm/nr_hugepages)`,
    );
  }
  if (useHuge) {
    args.push('--in-memory', '-m', String(opts.memoryMb));
  } else {
    args.push('--no-huge', '-m', String(opts.memoryMb), '--no-shconf');
    note =
      opts.hugepages === 'off'
        ? `DPDK runs without hugepages (hugepages: off): --no-huge -m ${opts.memoryMb}`
        : `DPDK runs without hugepages: ${free} free 2 MiB pages, ${needed} needed for ${opts.memoryMb} MiB ` +
          `(reserve them with: echo 1024 > /proc/sys/vm/nr_hugepages); slower, fine for tests and the lab`;
  }
  if (opts.noPci ?? true) args.push('--no-pci');
  args.push('--no-telemetry');
  // 22.11 syntax: --log-level=<type-glob>:<level>; "*:warning" would also hide our own
  // notices, so by default quiet only EAL's chatty start-up (lib.eal) and keep errors elsewhere.
  args.push(`--log-level=${opts.logLevel ?? 'lib.eal:warning'}`);
  return { args, note };
}
