// The configuration `portcullis demo` (npm start) runs, in the daemon's YAML
// format: a web service on the VIP's port 80, a UDP echo service on its
// port 7 and a PROXY-protocol v2 web service on port 81 (the servers answer
// with the client address they read from the header), all round-robin over
// the lab's three real servers through the lab's four LIPs. The e2e tests run the same text (with their own socket
// and state file) so the demo is what gets tested.

import { dirname, join } from 'node:path';
import {
  GATEWAY_INSIDE_ADDRESS, GATEWAY_INSIDE_DEVICE, GATEWAY_OUTSIDE_ADDRESS, GATEWAY_OUTSIDE_DEVICE,
  HTTP_PORT, PROXY_HTTP_PORT, INSIDE_PREFIX_LENGTH, LOCAL_ADDRESSES, OUTSIDE_PREFIX_LENGTH, REAL_SERVERS, UDP_ECHO_PORT, VIP,
} from './topology.js';

export const DEMO_SOCKET_PATH = '/run/portcullis/portcullis.sock';
export const DEMO_STATE_FILE_PATH = '/var/lib/portcullis/state.json';

function serverList(port: number): string {
  return REAL_SERVERS
    .map((server) => `      - { address: ${server.addresses[0]}, port: ${port}, weight: 1 }`)
    .join('\n');
}

/** The demo configuration with the given API socket and state file (the audit log goes next to it). */
export function demoConfigYaml(paths: { socket?: string; stateFile?: string } = {}): string {
  const localAddresses = `[${LOCAL_ADDRESSES.join(', ')}]`;
  return `# Portcullis demo: the lab of \`portcullis lab up\` behind one VIP.
dataplane: { workers: 1, lcores: "0-1", polling: adaptive, memory_mb: 512, hugepages: auto, conn_capacity: 262144 }
api: { socket: ${JSON.stringify(paths.socket ?? DEMO_SOCKET_PATH)} }
state_file: ${JSON.stringify(paths.stateFile ?? DEMO_STATE_FILE_PATH)}
defense: { audit_log: ${JSON.stringify(join(dirname(paths.stateFile ?? DEMO_STATE_FILE_PATH), 'audit.log'))} }
ports:
  - { name: outside, device: "${GATEWAY_OUTSIDE_DEVICE}", addresses: [${GATEWAY_OUTSIDE_ADDRESS}/${OUTSIDE_PREFIX_LENGTH}] }
  - { name: inside, device: "${GATEWAY_INSIDE_DEVICE}", addresses: [${GATEWAY_INSIDE_ADDRESS}/${INSIDE_PREFIX_LENGTH}] }
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
`;
}

/** The demo configuration text with the default socket and state file. */
export const DEMO_CONFIG_YAML: string = demoConfigYaml();
