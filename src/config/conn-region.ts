// dataplane.conn_region: where the connection tables live so that a restarted daemon adopts them
// (docs/operations.md "Restarts, crashes and upgrades"). The file is named after the state file so
// that two daemons with different state files never share a region, and a restart with the same
// state file always finds its own: `<h>` = the first 12 hex digits of sha256(absolute state file path).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { invalid, ModelError } from '../model/index.js';
import type { ConnRegionSetting } from './types.js';

export const HUGEPAGES_DIR = '/dev/hugepages';
export const SHM_DIR = '/dev/shm';
const MAX_PATH = 4096;

/** The YAML value: 'auto', 'off' or an absolute file path; errors name the field. */
export function readConnRegion(value: unknown, path: string): ConnRegionSetting {
  if (value === 'auto' || value === 'off') return value;
  if (typeof value !== 'string' || value === '' || value.length > MAX_PATH) {
    throw invalid(path, `auto, off or an absolute file path of at most ${MAX_PATH} characters`, value);
  }
  if (!isAbsolute(value)) {
    // Relative to what? The daemon's working directory differs between a shell and systemd:
    // a restart from elsewhere would silently start with empty tables.
    throw new ModelError('INVALID_ARGUMENT', path, `expected an absolute path (a restart from another directory must find the same region), got ${JSON.stringify(value)}`);
  }
  if (value.endsWith('/') || value.includes('\0')) throw invalid(path, 'a file path (not a directory, no NUL)', value);
  return { path: value };
}

/** First 12 hex digits of sha256 of the absolute state file path. */
export function regionTag(stateFile: string): string {
  return createHash('sha256').update(resolve(stateFile), 'utf8').digest('hex').slice(0, 12);
}

/** True when /proc/mounts (or the text given) has a hugetlbfs mounted exactly at `dir`. */
export function isHugetlbfsMount(dir: string, mounts?: string): boolean {
  let text = mounts;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/mounts', 'utf8');
    } catch {
      return false;
    }
  }
  // Fields: device, mount point (spaces as \040), type, options...
  return text.split('\n').some((line) => {
    const [, mountPoint, type] = line.split(' ');
    return type === 'hugetlbfs' && mountPoint === dir;
  });
}

export interface RegionPlacement {
  /** The config's state_file, after --state-file. */
  stateFile: string;
  /** The data plane runs on hugepages (EAL --in-memory, not --no-huge). */
  hugepages: boolean;
  /** For tests: the /proc/mounts text to read instead of the real one. */
  mounts?: string;
  /** For tests: whether a file exists (default: the real file system). */
  exists?: (path: string) => boolean;
}

/**
 * The region file the data plane is started with, or undefined for 'off'. 'auto' takes the
 * region an earlier daemon with this state file left, on either file system: whether a start gets
 * hugepages depends on what is free at that moment (a takeover starts while the old daemon still
 * holds its own), and the tables must be found whatever it got. With none, a new one goes on
 * hugetlbfs when the data plane uses hugepages and /dev/hugepages is one (same page size and TLB
 * behaviour as the rest of its memory), else on /dev/shm (tmpfs): both vanish at reboot, which is
 * right (no connection outlives a reboot), and neither ever touches a disk.
 */
export function connRegionPath(setting: ConnRegionSetting, placement: RegionPlacement): string | undefined {
  if (setting === 'off') return undefined;
  if (setting !== 'auto') return setting.path;
  const name = `portcullis-${regionTag(placement.stateFile)}.conns`;
  const exists = placement.exists ?? existsSync;
  const hugetlbfs = isHugetlbfsMount(HUGEPAGES_DIR, placement.mounts);
  if (hugetlbfs && exists(join(HUGEPAGES_DIR, name))) return join(HUGEPAGES_DIR, name);
  if (exists(join(SHM_DIR, name))) return join(SHM_DIR, name);
  return join(placement.hugepages && hugetlbfs ? HUGEPAGES_DIR : SHM_DIR, name);
}

/**
 * `auto` chose hugetlbfs for a new region and the data plane could not map it (NOMEM: not enough
 * free huge pages beside the data plane's own memory): the same region on /dev/shm instead, or
 * undefined when that does not apply (an explicit path, an existing region, another error).
 */
export function regionFallback(setting: ConnRegionSetting, path: string | undefined, error: unknown): string | undefined {
  const failure = error as { code?: unknown; message?: unknown };
  if (setting !== 'auto' || !path?.startsWith(`${HUGEPAGES_DIR}/`) || existsSync(path)) return undefined;
  if (failure?.code !== 'NOMEM' || !/connection region/.test(String(failure.message))) return undefined;
  return join(SHM_DIR, path.slice(HUGEPAGES_DIR.length + 1));
}

/**
 * Removes every file `auto` may have made for this state file (on hugetlbfs or tmpfs, and copies set
 * aside as `.rejected-<seconds>`): for the lab, demo and benchmarks, whose state files live in a
 * temporary folder, so a region would otherwise outlive its only user (on hugetlbfs it keeps its huge
 * pages). Returns what it removed.
 */
export async function removeConnRegionFiles(stateFile: string): Promise<string[]> {
  const prefix = `portcullis-${regionTag(stateFile)}.conns`;
  const removed: string[] = [];
  for (const dir of [HUGEPAGES_DIR, SHM_DIR]) {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names.filter((n) => n.startsWith(prefix))) {
      await rm(join(dir, name), { force: true });
      removed.push(join(dir, name));
    }
  }
  return removed;
}
