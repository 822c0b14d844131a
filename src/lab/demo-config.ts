// The configuration `portcullis demo` (npm start) runs, in the daemon's YAML
// format: a web service on the VIP's port 80, a UDP echo service on its
// port 7 and a PROXY-protocol v2 web service on port 81 (the servers answer
// with the client address they read from the header), all round-robin over
// the lab's three real servers through the lab's four LIPs. The e2e tests run the same text (with their own socket
// and state file) so the demo is what gets tested.
//
// With DEMO_IPV6_SERVICES on, the gateway's ports also get their IPv6 addresses and the
// same three services exist on the IPv6 VIP (IPv6 LIPs, IPv6 servers), plus a NAT64
// web service on [VIP_V6]:8080 whose servers are the IPv4 ones, reached through the
// IPv4 LIPs.

import { dirname, join } from 'node:path';
import {
  GATEWAY_INSIDE_ADDRESS, GATEWAY_INSIDE_ADDRESS_V6, GATEWAY_INSIDE_DEVICE, GATEWAY_OUTSIDE_ADDRESS, GATEWAY_OUTSIDE_ADDRESS_V6,
  GATEWAY_OUTSIDE_DEVICE, HTTP_PORT, INSIDE_PREFIX_LENGTH, INSIDE_PREFIX_LENGTH_V6, LOCAL_ADDRESSES, LOCAL_ADDRESSES_V6,
  NAT64_HTTP_PORT, OUTSIDE_PREFIX_LENGTH, OUTSIDE_PREFIX_LENGTH_V6, PROXY_HTTP_PORT, REAL_SERVERS, UDP_ECHO_PORT, VIP, VIP_V6,
} from './topology.js';

/**
 * Whether the demo (and every e2e suite that starts the demo config) also serves the IPv6
 * services. Off while the data plane cannot forward IPv6 yet; turning IPv6 on in the demo is
 * this one line. demoConfigYaml({ ipv6Services }) overrides it either way.
 */
export const DEMO_IPV6_SERVICES = false;

export const DEMO_SOCKET_PATH = '/run/portcullis/portcullis.sock';
export const DEMO_STATE_FILE_PATH = '/var/lib/portcullis/state.json';

export interface DemoConfigOptions {
  socket?: string;
  stateFile?: string;
  /** Default DEMO_IPV6_SERVICES. */
  ipv6Services?: boolean;
}

type Family = 'ipv4' | 'ipv6';

/** YAML flow list of addresses; quoted, so an IPv6 address is never read as anything but a string. */
function yamlList(addresses: readonly string[]): string {
  return `[${addresses.map((address) => (address.includes(':') ? JSON.stringify(address) : address)).join(', ')}]`;
}

function serverList(port: number, family: Family = 'ipv4'): string {
  return REAL_SERVERS
    .map((server) => family === 'ipv4' ? server.addresses[0]! : JSON.stringify(server.addresses6[0]!))
    .map((address) => `      - { address: ${address}, port: ${port}, weight: 1 }`)
    .join('\n');
}

/** The IPv6 services: the IPv4 ones' twins on the IPv6 VIP, and NAT64 to the IPv4 servers. */
function ipv6Services(): string {
  const vip = JSON.stringify(VIP_V6);
  const localAddresses = yamlList(LOCAL_ADDRESSES_V6);
  return `  - name: web-v6
    protocol: tcp
    vip: ${vip}
    port: ${HTTP_PORT}
    scheduler: rr
    local_addresses: ${localAddresses}
    servers:
${serverList(HTTP_PORT, 'ipv6')}
  - name: echo-v6
    protocol: udp
    vip: ${vip}
    port: ${UDP_ECHO_PORT}
    scheduler: rr
    local_addresses: ${localAddresses}
    servers:
${serverList(UDP_ECHO_PORT, 'ipv6')}
  - name: web-proxy-v6
    protocol: tcp
    vip: ${vip}
    port: ${PROXY_HTTP_PORT}
    scheduler: rr
    client_address: proxy_v2
    local_addresses: ${localAddresses}
    servers:
${serverList(PROXY_HTTP_PORT, 'ipv6')}
  - name: web-nat64
    protocol: tcp
    vip: ${vip}
    port: ${NAT64_HTTP_PORT}
    scheduler: rr
    local_addresses: ${yamlList(LOCAL_ADDRESSES)}
    servers:
${serverList(HTTP_PORT)}
`;
}

/** The demo configuration with the given API socket and state file (the audit log goes next to it), IPv6 services per the switch. */
export function demoConfigYaml(paths: DemoConfigOptions = {}): string {
  const withIpv6 = paths.ipv6Services ?? DEMO_IPV6_SERVICES;
  const localAddresses = `[${LOCAL_ADDRESSES.join(', ')}]`;
  const outsideAddresses = [`${GATEWAY_OUTSIDE_ADDRESS}/${OUTSIDE_PREFIX_LENGTH}`,
    ...(withIpv6 ? [`${GATEWAY_OUTSIDE_ADDRESS_V6}/${OUTSIDE_PREFIX_LENGTH_V6}`] : [])];
  const insideAddresses = [`${GATEWAY_INSIDE_ADDRESS}/${INSIDE_PREFIX_LENGTH}`,
    ...(withIpv6 ? [`${GATEWAY_INSIDE_ADDRESS_V6}/${INSIDE_PREFIX_LENGTH_V6}`] : [])];
  return `# Portcullis demo: the lab of \`portcullis lab up\` behind one VIP.
dataplane: { workers: 1, lcores: "0-1", polling: adaptive, memory_mb: 512, hugepages: auto, conn_capacity: 262144 }
api: { socket: ${JSON.stringify(paths.socket ?? DEMO_SOCKET_PATH)} }
state_file: ${JSON.stringify(paths.stateFile ?? DEMO_STATE_FILE_PATH)}
defense: { audit_log: ${JSON.stringify(join(dirname(paths.stateFile ?? DEMO_STATE_FILE_PATH), 'audit.log'))} }
ports:
  - { name: outside, device: "${GATEWAY_OUTSIDE_DEVICE}", addresses: ${yamlList(outsideAddresses)} }
  - { name: inside, device: "${GATEWAY_INSIDE_DEVICE}", addresses: ${yamlList(insideAddresses)} }
routes: []
services:
  - name: web
    protocol: tcp
    vip: ${VIP}
    port: ${HTTP_PORT}
    scheduler: rr
    local_addresses: ${localAddresses}
    servers:
${serverList(HTTP_PORT)}
  - name: echo
    protocol: udp
    vip: ${VIP}
    port: ${UDP_ECHO_PORT}
    scheduler: rr
    local_addresses: ${localAddresses}
    servers:
${serverList(UDP_ECHO_PORT)}
  - name: web-proxy
    protocol: tcp
    vip: ${VIP}
    port: ${PROXY_HTTP_PORT}
    scheduler: rr
    client_address: proxy_v2
    local_addresses: ${localAddresses}
    servers:
${serverList(PROXY_HTTP_PORT)}
${withIpv6 ? ipv6Services() : ''}`;
}

/** The demo configuration text with the default socket and state file. */
export const DEMO_CONFIG_YAML: string = demoConfigYaml();
