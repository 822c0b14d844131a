// Exception path (DESIGN.md §3), host side: the data plane creates one kernel interface
// per port with exception_path; here it gets the port's addresses so the host's own
// sockets (health checks) reach the port's segment through the data plane.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { isIPv4 } from 'node:net';
import { promisify } from 'node:util';
import type { PortModel } from '../model/index.js';

const run = promisify(execFile);

/** The kernel interface name the data plane gives a port's exception path (core/ports.h). */
export function exceptionInterfaceName(portName: string): string {
  return `pcx-${portName}`.slice(0, 15);
}

/**
 * Assigns the ports' IPv4 addresses and brings the interfaces up, IPv6 off: the data plane
 * punts only IPv4 to the exception path (pipeline/worker.cpp is_for_host_stack; neither
 * neighbour discovery nor IPv6 TCP/UDP reach the host), so an IPv6 address there would be
 * dead, and the kernel refuses one on an interface with IPv6 disabled anyway.
 */
export async function configureExceptionInterfaces(ports: PortModel[]): Promise<string[]> {
  const done: string[] = [];
  for (const port of ports) {
    if (!port.exceptionPath) continue;
    const iface = exceptionInterfaceName(port.name);
    const ipv4 = port.addresses.filter((address) => isIPv4(address.split('/')[0]!));
    const skipped = port.addresses.length - ipv4.length;
    await writeFile(`/proc/sys/net/ipv6/conf/${iface}/disable_ipv6`, '1').catch(() => undefined);
    await run('ip', ['addr', 'flush', 'dev', iface]);
    for (const address of ipv4) await run('ip', ['addr', 'add', address, 'dev', iface]);
    await run('ip', ['link', 'set', 'dev', iface, 'up']);
    done.push(`${iface} ${ipv4.join(' ')}${skipped ? ` (${skipped} IPv6 address(es) not assigned: the exception path carries IPv4 only)` : ''}`);
  }
  return done;
}
