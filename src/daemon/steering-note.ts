// One start-up log line per port saying how several workers share it (docs/architecture.md,
// "Several workers"): how flows are spread over the queues and how a reply that
// lands on the wrong worker reaches the one that owns its connection.
import type { PortInfo } from '../dataplane/types.js';

/** '' with one queue; otherwise "; 3 queues: …" for the port's start-up log line. */
export function steeringNote(port: PortInfo): string {
  if (port.queues <= 1) return '';
  const spread = port.rss
    ? 'RSS spreads flows'
    : port.driver === 'net_af_packet'
      ? 'kernel PACKET_FANOUT_HASH spreads flows'
      : port.driver === 'net_ring'
        ? 'ring queues (the test driver picks the queue)'
        : 'no RSS on this device: flows stay on the queue the device picks';
  const rings = 'go through the worker rings (redirected_out/redirected_in)';
  const replies = port.flowSteering && port.flowSteering6
    ? 'rte_flow rules send replies to IPv4 and IPv6 LIPs to the owning worker\'s queue'
    : port.flowSteering || port.flowSteering6
      ? `rte_flow rules send replies to ${port.flowSteering ? 'IPv4' : 'IPv6'} LIPs to the owning worker's queue; ` +
        `the device refused the ${port.flowSteering ? 'IPv6' : 'IPv4'} rule, so replies to ${port.flowSteering ? 'IPv6' : 'IPv4'} LIPs reaching another worker ${rings}`
      : `no rte_flow lport steering on this device (IPv4 or IPv6): replies reaching another worker ${rings}`;
  return `; ${port.queues} queues: ${spread}; ${replies}`;
}
