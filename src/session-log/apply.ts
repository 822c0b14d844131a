// The data plane's share of the `session_log` section: a flag on every applied config (the
// model knows nothing of it), so the workers keep tallies and queue records only when logging is on.
import type { DataplaneConfig } from '../dataplane/types.js';

export function withSessionLog<T extends { apply(config: DataplaneConfig): { version: number } }>(
  target: T, on: boolean,
): { apply(config: DataplaneConfig): { version: number } } {
  if (!on) return target;
  return { apply: (config) => target.apply({ ...config, sessionLog: true }) };
}
