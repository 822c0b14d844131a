// What the cluster section names on disk, checked at start before anything runs (the config
// parser only checks the shape): the sync key file is readable and long enough, and a managed
// speaker's gobgpd exists and is executable. A problem is returned as one line naming the field.
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import type { ClusterSettings } from '../config/cluster-types.js';

/** The shared key's minimum length after trimming (cluster-types.ts). */
export const MIN_KEY_BYTES = 32;

export async function checkClusterFiles(cluster: ClusterSettings): Promise<string | undefined> {
  let key: Buffer;
  try {
    key = await readFile(cluster.sync.keyFile);
  } catch (error) {
    return `cluster.sync.key_file: cannot read ${cluster.sync.keyFile}: ${(error as Error).message}`;
  }
  const length = Buffer.byteLength(key.toString('utf8').trim());
  if (length < MIN_KEY_BYTES) return `cluster.sync.key_file: ${cluster.sync.keyFile} holds ${length} bytes after trimming, expected at least ${MIN_KEY_BYTES}`;
  if (cluster.bgp.speaker === 'managed') {
    try {
      await access(cluster.bgp.gobgpd, constants.X_OK);
    } catch (error) {
      return `cluster.bgp.gobgpd: cannot run ${cluster.bgp.gobgpd} (${(error as Error).message}): install the Debian package gobgpd, or set speaker: external`;
    }
  }
  return undefined;
}
