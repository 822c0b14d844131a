// The lab's fixed topology: every name and address the lab, the demo, the
// e2e tests and the docs agree on. IPv4 addresses come from the RFC 2544
// benchmarking range (198.18.0.0/15), which is never routed on the Internet;
// IPv6 ones from the documentation prefix 2001:db8::/32 (RFC 3849), with the
// IPv4 segment's third byte as the /48's last group (18 outside, 19 inside).

/** Where labUp records pids and server logs; labDown reads it back. */
export const LAB_STATE_DIR = '/run/portcullis-lab';

/**
 * Helper namespace holding both bridges. Why not the root namespace: the
 * bridges then see none of the host's bridge netfilter (br_netfilter makes
 * bridged frames traverse the host's iptables FORWARD chain, which Docker
 * and many distros set to DROP), none of its sysctls or NetworkManager,
 * and deleting this one namespace removes bridges and every bridge-side
 * veth at once, which makes cleanup after a crash trivial.
 */
export const LAB_BRIDGE_NAMESPACE = 'pc-lab';

/** Root-namespace veth ends the gateway's af_packet ports attach to. */
export const GATEWAY_OUTSIDE_IFACE = 'pc-gw-out';
export const GATEWAY_INSIDE_IFACE = 'pc-gw-in';
/**
 * af_packet ring sizing. The PMD's default ring is 512 frames: at a 70k pps flood that is
 * 7 ms of traffic, less than one time slice the worker loses to the flood sender and the
 * lab's servers on a 2-CPU box, and an overflowing ring drops silently (DPDK 22.11's
 * af_packet reports no rx_missed). 16384 frames of 2 KiB (32 MiB per ring) absorb ~0.2 s.
 * qdisc_bypass: frames we send skip the veth's qdisc (nothing to shape there).
 */
export const GATEWAY_AF_PACKET_ARGS = 'blocksz=4096,framesz=2048,framecnt=16384,qdisc_bypass=1';
export const GATEWAY_OUTSIDE_DEVICE = `net_af_packet0,iface=${GATEWAY_OUTSIDE_IFACE},${GATEWAY_AF_PACKET_ARGS}`;
export const GATEWAY_INSIDE_DEVICE = `net_af_packet1,iface=${GATEWAY_INSIDE_IFACE},${GATEWAY_AF_PACKET_ARGS}`;

export const OUTSIDE_BRIDGE = 'pc-br-out';
export const INSIDE_BRIDGE = 'pc-br-in';

export const OUTSIDE_PREFIX_LENGTH = 24;
export const INSIDE_PREFIX_LENGTH = 24;
export const OUTSIDE_SUBNET = '198.18.0.0/24';
export const INSIDE_SUBNET = '198.19.0.0/24';

/** The gateway's own address on each segment (hosts' default route). */
export const GATEWAY_OUTSIDE_ADDRESS = '198.18.0.254';
export const GATEWAY_INSIDE_ADDRESS = '198.19.0.254';

export const VIP = '198.18.0.10';
export const LOCAL_ADDRESSES = ['198.19.0.200', '198.19.0.201', '198.19.0.202', '198.19.0.203'] as const;

// IPv6, beside the IPv4 addresses on the same links: the last group mirrors the IPv4 host byte.
export const OUTSIDE_PREFIX_LENGTH_V6 = 64;
export const INSIDE_PREFIX_LENGTH_V6 = 64;
export const OUTSIDE_SUBNET_V6 = '2001:db8:18::/64';
export const INSIDE_SUBNET_V6 = '2001:db8:19::/64';
export const GATEWAY_OUTSIDE_ADDRESS_V6 = '2001:db8:18::254';
export const GATEWAY_INSIDE_ADDRESS_V6 = '2001:db8:19::254';
export const VIP_V6 = '2001:db8:18::10';
export const LOCAL_ADDRESSES_V6 = ['2001:db8:19::200', '2001:db8:19::201', '2001:db8:19::202', '2001:db8:19::203'] as const;

export const HTTP_PORT = 80;
export const UDP_ECHO_PORT = 7;
/** The lab servers' DNS responder (UDP): NOERROR to every query, for dns health checks. */
export const DNS_PORT = 53;
/** Real servers read a PROXY protocol header on this port (src/lab/servers.ts). */
export const PROXY_HTTP_PORT = 81;
/** The demo's NAT64 web service: [VIP_V6]:8080 → the IPv4 servers' port 80 through the IPv4 LIPs. */
export const NAT64_HTTP_PORT = 8080;

export type Segment = 'outside' | 'inside';

export interface LabHost {
  /** Network namespace name (also the label used in logs). */
  namespace: string;
  segment: Segment;
  /** First address is the primary one; all are /24 on eth0. */
  addresses: string[];
  /** IPv6 addresses on the same eth0 (/64), first one primary; added without DAD. */
  addresses6: string[];
}

export interface RealServerHost extends LabHost {
  /** Name the server reports in its JSON answers ("rs1"). */
  serverName: string;
}

export const CLIENT: LabHost = {
  namespace: 'pc-client',
  segment: 'outside',
  // .1 is the primary; .2-.9 let tests open flows from several client addresses.
  addresses: ['198.18.0.1', '198.18.0.2', '198.18.0.3', '198.18.0.4', '198.18.0.5',
    '198.18.0.6', '198.18.0.7', '198.18.0.8', '198.18.0.9'],
  addresses6: [1, 2, 3, 4, 5, 6, 7, 8, 9].map((index) => `2001:db8:18::${index}`),
};

export const ATTACKER: LabHost = {
  namespace: 'pc-attacker',
  segment: 'outside',
  addresses: ['198.18.0.66'],
  addresses6: ['2001:db8:18::66'],
};

export const REAL_SERVERS: RealServerHost[] = [1, 2, 3].map((index) => ({
  namespace: `pc-rs${index}`,
  segment: 'inside' as const,
  addresses: [`198.19.0.${index}`],
  addresses6: [`2001:db8:19::${index}`],
  serverName: `rs${index}`,
}));

export const LAB_HOSTS: LabHost[] = [CLIENT, ATTACKER, ...REAL_SERVERS];

/**
 * A plain kernel router with a leg on each segment: the return path of DR and TUN real
 * servers, whose replies go to the client directly, not back through the gateway (docs/forwarding-modes.md).
 * Idle unless a server routes the outside prefix through it.
 */
export const RETURN_ROUTER = {
  namespace: 'pc-router',
  outsideAddress: '198.18.0.253',
  insideAddress: '198.19.0.253',
  outsideAddress6: '2001:db8:18::253',
  insideAddress6: '2001:db8:19::253',
} as const;

/** Every namespace labUp creates and labDown deletes (only these: other tools may own other pc-* names). */
export const LAB_NAMESPACES: string[] = [LAB_BRIDGE_NAMESPACE, ...LAB_HOSTS.map((host) => host.namespace), RETURN_ROUTER.namespace];
