// The configuration `portcullis demo` (npm start) runs, in the daemon's YAML
// format: a web service on the VIP's port 80, a UDP echo service on its
// port 7 and a PROXY-protocol v2 web service on port 81 (the servers answer
// with the client address they read from the header), all round-robin over
// the lab's three real servers through the lab's four LIPs. The e2e tests run the same text (with their own socket
// and state file) so the demo is what gets tested.
//
// With DEMO_IPV6_SERVICES on, the gateway's ports also get their IPv6 addresses and the
// IPv4 web and echo services have IPv6 twins on the IPv6 VIP (IPv6 LIPs, IPv6 servers). Two
// more IPv6 services have switches of their own: DEMO_PROXY_V6_SERVICE (PROXY v2 web on
// [VIP_V6]:81, AF_INET6 header) and DEMO_NAT64_SERVICE (web on [VIP_V6]:8080 whose servers
// are the IPv4 ones, reached through the IPv4 LIPs). Each needs DEMO_IPV6_SERVICES on too.

import { dirname, join } from 'node:path';
import {
  GATEWAY_INSIDE_ADDRESS, GATEWAY_INSIDE_ADDRESS_V6, GATEWAY_INSIDE_DEVICE, GATEWAY_OUTSIDE_ADDRESS, GATEWAY_OUTSIDE_ADDRESS_V6,
  GATEWAY_OUTSIDE_DEVICE, HTTP_PORT, INSIDE_PREFIX_LENGTH, INSIDE_PREFIX_LENGTH_V6, LOCAL_ADDRESSES, LOCAL_ADDRESSES_V6,
  NAT64_HTTP_PORT, OUTSIDE_PREFIX_LENGTH, OUTSIDE_PREFIX_LENGTH_V6, PROXY_HTTP_PORT, REAL_SERVERS, UDP_ECHO_PORT, VIP, VIP_V6,
} from './topology.js';

/**
 * Whether the demo (and every e2e suite that starts the demo config) also serves the IPv6
 * FullNAT services (web-v6, echo-v6) and gives the gateway's ports their IPv6 addresses.
 * demoConfigYaml({ ipv6Services }) overrides it either way.
 */
export const DEMO_IPV6_SERVICES = true;

/**
 * The PROXY v2 web service on the IPv6 VIP (web-proxy-v6), on since the data plane writes the
 * AF_INET6 header, with and without SYNPROXY (test/packet/proxy-synproxy6.test.ts,
 * test/e2e/proxy-ipv6.test.ts). demoConfigYaml({ proxyV6Service }) overrides it.
 */
export const DEMO_PROXY_V6_SERVICE = true;

/**
 * The NAT64 web service (web-nat64: IPv6 VIP, IPv4 LIPs and servers), on since the data plane
 * translates between the families (forward/nat64.h). demoConfigYaml({ nat64Service }) overrides it.
 */
export const DEMO_NAT64_SERVICE = true;

export const DEMO_SOCKET_PATH = '/run/portcullis/portcullis.sock';
export const DEMO_STATE_FILE_PATH = '/var/lib/portcullis/state.json';

export interface DemoConfigOptions {
  socket?: string;
  stateFile?: string;
  /** Default DEMO_IPV6_SERVICES. */
  ipv6Services?: boolean;
  /** Default DEMO_PROXY_V6_SERVICE; only with ipv6Services. */
  proxyV6Service?: boolean;
  /** Default DEMO_NAT64_SERVICE; only with ipv6Services. */
  nat64Service?: boolean;
}

/** Which of the demo's IPv6 services run: the switches above, overridden by the options. */
export interface DemoServices { ipv6: boolean; proxyV6: boolean; nat64: boolean }

/** The switches as an option set resolves them: proxyV6 and nat64 only ever with ipv6. */
export function demoServices(options: DemoConfigOptions = {}): DemoServices {
  const ipv6 = options.ipv6Services ?? DEMO_IPV6_SERVICES;
  return {
    ipv6,
    proxyV6: ipv6 && (options.proxyV6Service ?? DEMO_PROXY_V6_SERVICE),
    nat64: ipv6 && (options.nat64Service ?? DEMO_NAT64_SERVICE),
  };
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

/** The IPv6 services: the IPv4 ones' twins on the IPv6 VIP, and NAT64 to the IPv4 servers, per the switches. */
function ipv6Services(services: DemoServices): string {
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
${services.proxyV6 ? proxyV6Service(vip, localAddresses) : ''}${services.nat64 ? nat64Service(vip) : ''}`;
}

function proxyV6Service(vip: string, localAddresses: string): string {
  return `  - name: web-proxy-v6
    protocol: tcp
    vip: ${vip}
    port: ${PROXY_HTTP_PORT}
    scheduler: rr
    client_address: proxy_v2
    local_addresses: ${localAddresses}
    servers:
${serverList(PROXY_HTTP_PORT, 'ipv6')}
`;
}

function nat64Service(vip: string): string {
  return `  - name: web-nat64
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
  const services = demoServices(paths);
  const withIpv6 = services.ipv6;
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
${withIpv6 ? ipv6Services(services) : ''}`;
}

/** The demo configuration text with the default socket and state file. */
export const DEMO_CONFIG_YAML: string = demoConfigYaml();
