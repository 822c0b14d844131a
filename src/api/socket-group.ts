// api.socket_group: which group may use the control socket (mode 0660). Resolved from /etc/group
// at start-up so a typo stops the daemon with the field named, instead of a socket nobody can use.
import { readFile } from 'node:fs/promises';

const GROUP_FILE = '/etc/group';

/** The gid of a group name, or the number itself for a numeric gid. Throws naming the field. */
export async function resolveGroupId(group: string, file = GROUP_FILE): Promise<number> {
  if (/^\d+$/.test(group)) return Number(group);
  const text = await readFile(file, 'utf8').catch((error: Error) => {
    throw new Error(`api.socket_group: cannot read ${file} to look up "${group}" (${error.message})`);
  });
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === group && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new Error(`api.socket_group: no group "${group}" in ${file}; create it (groupadd ${group}) or use an existing one`);
}
