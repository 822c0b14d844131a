// Exception path (DESIGN.md §3), host side: the data plane creates one kernel interface
// per port with exception_path; here it gets the port's addresses (both families) so the host's own
// sockets (health checks) reach the port's segment through the data plane.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { isIPv6 } from 'node:net';
import { promisify } from 'node:util';
import type { PortModel } from '../model/index.js';

const run = promisify(execFile);

/** The kernel interface name the data plane gives a port's exception path (core/ports.h). */
export function exceptionInterfaceName(portName: string): string {
  return `pcx-${portName}`.slice(0, 15);
}

/**
 * Assigns the ports' addresses, IPv4 and IPv6, and brings the interfaces up. IPv6 is set up
 * for a data-plane port, not a host link: no link-local address (addr_gen_mode none: the
 * data plane owns only the configured addresses, so nothing sent to an fe80:: one would come
 * back), no duplicate address detection (nodad: the data plane answers for the address
 * already), no router advertisements or autoconfiguration. The data plane punts TCP/UDP for
 * the addresses and copies neighbour advertisements to them (pipeline/worker.cpp), and what
 * the kernel sends, its own neighbour solicitations included, leaves by the port.
 */
export async function configureExceptionInterfaces(ports: PortModel[]): Promise<string[]> {
  const done: string[] = [];
  for (const port of ports) {
    if (!port.exceptionPath) continue;
    const iface = exceptionInterfaceName(port.name);
    const hasIpv6 = port.addresses.some((address) => isIPv6(address.split('/')[0]!));
    const ipv6Settings: [string, string][] = hasIpv6
      ? [['addr_gen_mode', '1'], ['accept_ra', '0'], ['autoconf', '0'], ['disable_ipv6', '0']]
      : [['disable_ipv6', '1']];  // an IPv4-only port: the interface stays quiet on IPv6
    for (const [key, value] of ipv6Settings) {
      await writeFile(`/proc/sys/net/ipv6/conf/${iface}/${key}`, value).catch((error: Error) => {
        if (hasIpv6) throw new Error(`${iface}: cannot set net.ipv6.conf.${iface}.${key}=${value} for the port's IPv6 addresses: ${error.message}`);
      });
    }
    await run('ip', ['addr', 'flush', 'dev', iface]);
    for (const address of port.addresses) {
      const ipv6 = isIPv6(address.split('/')[0]!);
      await run('ip', ipv6 ? ['-6', 'addr', 'add', address, 'dev', iface, 'nodad'] : ['addr', 'add', address, 'dev', iface]);
    }
    await run('ip', ['link', 'set', 'dev', iface, 'up']);
    done.push(`${iface} ${port.addresses.join(' ')}`);
  }
  return done;
}
