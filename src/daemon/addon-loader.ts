// Loads src/dataplane/addon.js lazily: only `portcullis run` needs the data plane,
// and client commands (status, stats, --check) must work where libdpdk is absent.
export type AddonModule = typeof import('../dataplane/addon.js');

export async function importAddonModule(): Promise<AddonModule> {
  return import('../dataplane/addon.js');
}
