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
  /** Session log (src/session-log/): records taken from the workers' rings. */
  'session_log_records_drained',
  /** Session log: IPFIX messages (templates included) and data records a collector's socket sent. */
  'session_log_ipfix_messages_sent',
  'session_log_ipfix_records_sent',
  /** Session log: an IPFIX message the socket failed to send (lost, not retried). */
  'session_log_ipfix_send_errors',
  /** Session log: lines appended to the JSON file. */
  'session_log_json_lines_written',
  /** Session log: lines lost because the file fell behind (queue bound) or a write failed. */
  'session_log_json_lines_dropped',
  /** Session log: writes to the JSON file that failed (the file is reopened for the next one). */
  'session_log_json_write_errors',
  /** Session log: the JSON file opened (at start, on SIGHUP, or after it was moved or deleted). */
  'session_log_json_file_opens',
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
