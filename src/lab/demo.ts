// `portcullis demo` (what `npm start` runs): lab up, the gateway with the demo
// configuration in the foreground, a banner of things to try; Ctrl-C (or
// SIGTERM) stops the gateway, tears the lab down and exits 0.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoServices, type DemoServices } from './demo-config.js';
import { startDaemon, type DaemonProcess } from './daemon-process.js';
import { labDown, labUp } from './lab.js';
import { patternSha256 } from './pattern.js';
import { CLIENT, HTTP_PORT, NAT64_HTTP_PORT, PROXY_HTTP_PORT, REAL_SERVERS, UDP_ECHO_PORT, VIP, VIP_V6 } from './topology.js';
import { removeConnRegionFiles } from '../config/conn-region.js';
import { DEFAULT_SOCKET } from '../config/types.js';
import { writeDemoConfig } from './demo-socket.js';

/** How long a daemon exit waits for a signal that explains it. */
const DAEMON_EXIT_GRACE_MS = 500;
/** The download the banner suggests (its digest is printed beside it). */
const DEMO_DOWNLOAD_BYTES = 50_000_000;

/** The IPv6 lines of the banner (the services that run): curl -g so the brackets of the literal address are not a glob. */
function ipv6Tries(client: string, services: DemoServices): string[] {
  const vip = `[${VIP_V6}]`;
  return [
    `    ip netns exec ${client} curl -g 'http://${vip}/'`,
    `    for i in 1 2 3; do ip netns exec ${client} curl -gs 'http://${vip}/'; echo; done`,
    `    ip netns exec ${client} curl -gs 'http://${vip}/bytes/${DEMO_DOWNLOAD_BYTES}' | sha256sum   # expect ${patternSha256(DEMO_DOWNLOAD_BYTES)}`,
    ...(services.proxyV6 ? [`    ip netns exec ${client} curl -gs 'http://${vip}:${PROXY_HTTP_PORT}/'   # PROXY v2 over IPv6: the server reports [client]:port`] : []),
    ...(services.nat64 ? [`    ip netns exec ${client} curl -gs 'http://${vip}:${NAT64_HTTP_PORT}/'   # NAT64: an IPv4 server, which sees an IPv4 LIP`] : []),
    `    ip netns exec ${client} bash -c 'exec 3<>/dev/udp/${VIP_V6}/${UDP_ECHO_PORT}; echo hello >&3; timeout 1 head -n1 <&3'`,
  ];
}

/**
 * The CLI commands of the banner, as a user types them in the checkout (npx finds the package's
 * own `bin` entries); --socket only when the demo could not take the default socket.
 */
function cliTries(socketPath: string): string[] {
  const socket = socketPath === DEFAULT_SOCKET ? '' : ` --socket ${socketPath}`;
  return [
    `    npx pcadm -Ln${socket}   # the services as ipvsadm lists them`,
    `    npx portcullis stats${socket}`,
    '    npx portcullis lab status',
  ];
}

/** What the demo prints once the gateway is ready: the services and commands to try (services: default the demo's switches). */
export function demoBanner(socketPath: string, configPath: string, services: DemoServices = demoServices()): string {
  const client = CLIENT.namespace;
  const servers = REAL_SERVERS.map((s) => s.serverName).join(', ');
  return [
    '',
    '  Portcullis demo is running.',
    `  VIP ${VIP}:${HTTP_PORT}/tcp and :${UDP_ECHO_PORT}/udp → ${servers} (FullNAT, round-robin)`,
    ...(services.ipv6 ? [
      `  VIP [${VIP_V6}]:${HTTP_PORT}/tcp and :${UDP_ECHO_PORT}/udp → ${servers} over IPv6 (FullNAT, round-robin)`,
    ] : []),
    ...(services.proxyV6 ? [`  VIP [${VIP_V6}]:${PROXY_HTTP_PORT}/tcp → ${servers} over IPv6 with a PROXY v2 header`] : []),
    ...(services.nat64 ? [`  VIP [${VIP_V6}]:${NAT64_HTTP_PORT}/tcp → ${servers} over IPv4 (NAT64)`] : []),
    `  config ${configPath}`,
    '',
    '  Try, in another terminal:',
    `    ip netns exec ${client} curl http://${VIP}/`,
    `    for i in 1 2 3; do ip netns exec ${client} curl -s http://${VIP}/; echo; done`,
    `    ip netns exec ${client} curl -s http://${VIP}/bytes/${DEMO_DOWNLOAD_BYTES} | sha256sum   # expect ${patternSha256(DEMO_DOWNLOAD_BYTES)}`,
    `    ip netns exec ${client} curl -s http://${VIP}:${PROXY_HTTP_PORT}/   # PROXY v2: the server reports the client's own address`,
    `    ip netns exec ${client} bash -c 'exec 3<>/dev/udp/${VIP}/${UDP_ECHO_PORT}; echo hello >&3; timeout 1 head -n1 <&3'`,
    ...(services.ipv6 ? ipv6Tries(client, services) : []),
    ...cliTries(socketPath),
    '',
    '  Ctrl-C stops the gateway and removes the lab.',
    '',
  ].join('\n');
}

/** Runs the demo until SIGINT/SIGTERM; resolves after cleaning up (the process then exits). */
export async function runDemo(): Promise<void> {
  const workDir = await mkdtemp(join(tmpdir(), 'portcullis-demo-'));
  const stateFilePath = join(workDir, 'state.json');
  let daemon: DaemonProcess | undefined;
  let stopping = false;
  const cleanUp = async (): Promise<void> => {
    if (daemon) await daemon.stop();
    await labDown();
    await removeConnRegionFiles(stateFilePath);
    await rm(workDir, { recursive: true, force: true });
  };

  let configPath: string;
  try {
    await labUp();
    const files = await writeDemoConfig(workDir);
    configPath = files.configPath;
    console.log(files.note);
    console.log('demo: starting the gateway …');
    daemon = await startDaemon({
      configPath, socketPath: files.socketPath, stateFilePath: files.stateFilePath,
      onOutput: (chunk) => process.stdout.write(chunk),
    });
  } catch (error) {
    await cleanUp();
    throw error;
  }
  console.log(demoBanner(daemon.socketPath, configPath));

  const runningDaemon = daemon;
  const outcome = await new Promise<'signal' | number | string>((resolve) => {
    const onSignal = (): void => {
      if (stopping) return;
      stopping = true;
      resolve('signal');
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    // Ctrl-C in a terminal signals the whole process group, daemon included,
    // so its exit may be seen just before our own SIGINT: give that a moment.
    void runningDaemon.exited.then((how) => setTimeout(() => { if (!stopping) resolve(how); }, DAEMON_EXIT_GRACE_MS));
  });

  if (outcome === 'signal') {
    console.log('\ndemo: stopping the gateway and removing the lab …');
    await cleanUp();
    console.log('demo: done');
    process.exitCode = 0;
    return;
  }
  console.error(`demo: the gateway exited unexpectedly (${outcome}); removing the lab`);
  await cleanUp();
  process.exitCode = 1;
}
