// Address families within one service. The VIP, the local addresses and the real servers share
// one family, with one exception, NAT64 as DPVS does it: an IPv6 VIP whose servers are IPv4,
// reached through IPv4 local addresses, every server forwarded by FullNAT (the only method that
// rewrites both addresses, so the only one that can translate between families).
//
// The "inside" family (what the servers and LIPs speak) is read off the first server, else the
// first LIP; every other server and LIP must match it, and it must be the VIP's family unless the
// VIP is IPv6 and the inside IPv4. Runs inside checkState, so every door (config, gRPC, pcadm,
// state file) refuses a mixed service the same way.
import { joinPath, ModelError } from './errors.js';
import { ipFamily, type IpFamily } from './ip-address.js';
import type { Service } from './types.js';

interface Member {
  family: IpFamily;
  /** Field path and how to name it in a message. */
  path: string;
  text: string;
}

function insideMembers(service: Service, path: string): Member[] {
  const servers = service.servers.map((server, j): Member => ({
    family: ipFamily(server.address) ?? 4,
    path: joinPath(joinPath(joinPath(path, 'servers'), j), 'address'),
    text: `server ${server.address}`,
  }));
  const lips = service.localAddresses.map((lip, j): Member => ({
    family: ipFamily(lip) ?? 4,
    path: joinPath(joinPath(path, 'local_addresses'), j),
    text: `local address ${lip}`,
  }));
  return [...servers, ...lips];
}

const v = (family: IpFamily) => `IPv${family}`;

export function checkFamilies(service: Service, path: string): void {
  const vipFamily = ipFamily(service.vip) ?? 4;
  const members = insideMembers(service, path);
  const first = members[0];
  if (!first) return;
  if (vipFamily === 4 && first.family === 6) {
    throw new ModelError('INVALID_ARGUMENT', first.path,
      `${first.text} is IPv6 but the VIP ${service.vip} is IPv4; a service's VIP, local addresses and servers share one family `
      + '(NAT64 takes an IPv6 VIP with IPv4 servers, not the reverse)');
  }
  for (const member of members.slice(1)) {
    if (member.family === first.family) continue;
    const nat64 = vipFamily === 6 && first.family === 4;
    throw new ModelError('INVALID_ARGUMENT', member.path,
      `${member.text} is ${v(member.family)} but ${first.text} is ${v(first.family)}; `
      + (nat64
        ? 'a NAT64 service (IPv6 VIP, IPv4 servers) reaches its IPv4 servers through IPv4 local addresses only'
        : `a service's VIP, local addresses and servers share one family (the VIP ${service.vip} is ${v(vipFamily)})`));
  }
  if (vipFamily === 6 && first.family === 4) {
    service.servers.forEach((server, j) => {
      if (!server.forward) return;
      throw new ModelError('INVALID_ARGUMENT', joinPath(joinPath(joinPath(path, 'servers'), j), 'forward'),
        `${server.forward} cannot be used with NAT64 (IPv6 VIP ${service.vip}, IPv4 server ${server.address}): only fullnat translates between families`);
    });
  }
}
