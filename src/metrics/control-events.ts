// Counters of the control plane's own trouble, kept beside the data plane's events so
// GetStats `events` and Prometheus `portcullis_events_total{event=…}` show them too.
// Process-wide on purpose: the last-resort handlers they count are process-wide.

export const CONTROL_EVENTS = [
  /** A rejected promise nobody handled: logged by the last-resort handler, the daemon went on. */
  'control_unhandled_rejections',
  /** An exception no code caught: logged by the last-resort handler, the daemon went on. */
  'control_uncaught_exceptions',
  /** A health probe that could not run for a reason on our side (EMFILE, ENOBUFS, a throw…): no verdict moved. */
  'health_probes_unknown',
  /** Passive health quiesced a real server that refused connections above its service's rate (src/health/passive.ts). */
  'passive_health_quiesced',
  /** Passive health restored a real server at the end of its back-off. */
  'passive_health_restored',
  /** The state file was renamed into place but its directory could not be fsynced: the change stands. */
  'state_dir_sync_failures',
  /** A defence change took effect (its "pending" line is on disk) but its outcome line could not be written. */
  'audit_outcome_write_failures',
] as const;

export type ControlEvent = (typeof CONTROL_EVENTS)[number];

const counts = new Map<ControlEvent, number>(CONTROL_EVENTS.map((name) => [name, 0]));

export function countControlEvent(name: ControlEvent, by = 1): void {
  counts.set(name, (counts.get(name) ?? 0) + by);
}

/** Every control event, zeros included. */
export function controlEvents(): Record<ControlEvent, number> {
  return Object.fromEntries(counts) as Record<ControlEvent, number>;
}
