// ipvsadm's output formats, reproduced from its printf format strings (PROTOCOL.md §6.3),
// space by space. Pure: feed it data, get text. Forwarding methods read as ipvsadm's
// Masq/Route/Tunnel, FullNAT as DPVS's "FullNat"; -S saves them as -m/-g/-i/-b.
import { compareIp } from '../../model/ip-address.js';
import { addressPortName, type NameTables, type Proto } from './names.js';

export interface Counters { conns: number; inPackets: number; outPackets: number; inBytes: number; outBytes: number }
export interface RateFigures { cps: number; inPps: number; outPps: number; inBps: number; outBps: number }

export type ForwardMethod = 'fullnat' | 'nat' | 'dr' | 'tun';

export interface ListServer {
  address: string;
  port: number;
  /** The configured weight (what -S saves). */
  weight: number;
  /**
   * The weight the data plane runs with (what -L shows): 0 while the health check or passive
   * health holds the server down, as ipvsadm shows a server keepalived quiesced.
   */
  runningWeight: number;
  forward: ForwardMethod;
  upperThreshold: number;
  lowerThreshold: number;
  activeConns: number;
  inactiveConns: number;
  /** Live persistence templates pointing at the server (--persistent-conn PersistConn). */
  persistConns: number;
  stats: Counters;
  rates: RateFigures;
}

/** One LIP of a service as --get-laddr shows it. */
export interface ListLocalAddress {
  address: string;
  conns: number;
  conflicts: number;
}

export interface ListService {
  protocol: Proto;
  vip: string;
  port: number;
  scheduler: string;
  /** Seconds; 0 = not persistent. */
  persistence: number;
  /** -M of an IPv4 service ('' or 255.255.255.255 = none)... */
  netmask: string;
  /** ...and of an IPv6 one (0 or 128 = none). */
  prefixLength: number;
  /** DPVS -j: saved as "-j enable" when on. */
  synproxy: boolean;
  /** ipvsadm -o: listed as " ops" after the persistence, saved as "-o"; absent = off. */
  onePacket?: boolean;
  localAddresses: ListLocalAddress[];
  servers: ListServer[];
  stats: Counters;
  rates: RateFigures;
}

export interface ListConnection {
  protocol: Proto;
  client: string; clientPort: number;
  virtual: string; virtualPort: number;
  server: string; serverPort: number;
  state: string;
  expiresInMs: number;
}

export type ListFormat = 'default' | 'stats' | 'rate' | 'thresholds' | 'persistent-conn';

export interface FormatOptions {
  numeric: boolean;
  exact: boolean;
  sort: boolean;
  names: NameTables;
}

export const IPVS_VERSION_LINE = 'IP Virtual Server version 1.2.1 (size=4096)';
const FORWARD_NAME: Record<ForwardMethod, string> = { fullnat: 'FullNat', nat: 'Masq', dr: 'Route', tun: 'Tunnel' };
const FORWARD_FLAG: Record<ForwardMethod, string> = { fullnat: '-b', nat: '-m', dr: '-g', tun: '-i' };

const left = (text: string, width: number) => text.padEnd(width);
const right = (text: string | number, width: number) => String(text).padStart(width);

/** print_largenum: K/M/G/T above 10^8 unless --exact. */
export function largeNumber(value: number, exact: boolean): string {
  if (exact) {
    const text = String(value);
    return right(text, text.length <= 8 ? 9 : text.length + 1);
  }
  if (value < 1e8) return right(value, 9);
  if (value < 1e9) return `${right(Math.floor(value / 1e3), 8)}K`;
  if (value < 1e11) return `${right(Math.floor(value / 1e6), 8)}M`;
  if (value < 1e14) return `${right(Math.floor(value / 1e9), 8)}G`;
  return `${right(Math.floor(value / 1e12), 8)}T`;
}

const compareAddress = compareIp;

/** ipvsadm --sort (libipvs ipvs_cmp_services): services by protocol, family, address, port; servers by address, port. */
export function sortServices(services: ListService[]): ListService[] {
  const protoRank = (p: Proto) => (p === 'tcp' ? 6 : 17);
  return [...services]
    .sort((a, b) => protoRank(a.protocol) - protoRank(b.protocol) || compareAddress(a.vip, b.vip) || a.port - b.port)
    .map((s) => ({ ...s, servers: [...s.servers].sort((a, b) => compareAddress(a.address, b.address) || a.port - b.port) }));
}

const isIpv6 = (address: string) => address.includes(':');

/** "TCP  vip:port", cut to 33 characters for IPv4 as ipvsadm does (svc_name[33] = 0); IPv6 names are never cut. */
function serviceName(s: ListService, o: FormatOptions): string {
  const name = `${s.protocol.toUpperCase()}  ${addressPortName(s.vip, s.port, s.protocol, o.numeric, o.names)}`;
  return isIpv6(s.vip) ? name : name.slice(0, 33);
}

/** Cut to 28 characters for IPv4 (dname[28] = 0); an IPv6 name is whole and overflows its column, as in ipvsadm. */
function serverName(s: ListServer, proto: Proto, o: FormatOptions): string {
  const name = addressPortName(s.address, s.port, proto, o.numeric, o.names);
  return isIpv6(s.address) ? name : name.slice(0, 28);
}

export function listTitle(format: ListFormat): string {
  switch (format) {
    case 'stats':
      return `${left('Prot LocalAddress:Port', 33)} ${['Conns', 'InPkts', 'OutPkts', 'InBytes', 'OutBytes'].map((h) => right(h, 8)).join(' ')}\n  -> RemoteAddress:Port\n`;
    case 'rate':
      return `${left('Prot LocalAddress:Port', 33)} ${['CPS', 'InPPS', 'OutPPS', 'InBPS', 'OutBPS'].map((h) => right(h, 8)).join(' ')}\n  -> RemoteAddress:Port\n`;
    case 'thresholds':
      return `${left('Prot LocalAddress:Port', 33)} ${['Uthreshold', 'Lthreshold', 'ActiveConn', 'InActConn'].map((h) => left(h, 10)).join(' ')}\n  -> RemoteAddress:Port\n`;
    case 'persistent-conn':
      return `${left('Prot LocalAddress:Port', 33)} ${left('Weight', 9)} ${left('PersistConn', 11)} ${left('ActiveConn', 10)} ${left('InActConn', 10)}\n  -> RemoteAddress:Port\n`;
    default:
      return 'Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n';
  }
}

function numbers(values: number[], exact: boolean): string {
  return values.map((v) => largeNumber(v, exact)).join('');
}

function serviceLine(s: ListService, format: ListFormat, o: FormatOptions): string {
  const name = serviceName(s, o);
  if (format === 'stats') {
    const c = s.stats;
    return `${left(name, 33)}${numbers([c.conns, c.inPackets, c.outPackets, c.inBytes, c.outBytes], o.exact)}\n`;
  }
  if (format === 'rate') {
    const r = s.rates;
    return `${left(name, 33)}${numbers([r.cps, r.inPps, r.outPps, r.inBps, r.outBps], o.exact)}\n`;
  }
  return `${name} ${s.scheduler}${persistenceFlags(s)}${s.onePacket ? ' ops' : ''}\n`;
}

/** The -M value ipvsadm prints: the dotted mask unless 255.255.255.255 (IPv4), the prefix length unless 128 (IPv6). */
function maskText(s: ListService): string | undefined {
  if (isIpv6(s.vip)) return s.prefixLength && s.prefixLength !== 128 ? String(s.prefixLength) : undefined;
  return s.netmask && s.netmask !== '255.255.255.255' ? s.netmask : undefined;
}

/** " persistent %u" and " mask %s" / " mask %i", as the list prints them. */
function persistenceFlags(s: ListService): string {
  if (!s.persistence) return '';
  const mask = maskText(s);
  return ` persistent ${s.persistence}${mask ? ` mask ${mask}` : ''}`;
}

function serverLine(server: ListServer, proto: Proto, format: ListFormat, o: FormatOptions): string {
  const name = left(serverName(server, proto, o), 28);
  switch (format) {
    case 'stats': {
      const c = server.stats;
      return `  -> ${name}${numbers([c.conns, c.inPackets, c.outPackets, c.inBytes, c.outBytes], o.exact)}\n`;
    }
    case 'rate': {
      const r = server.rates;
      return `  -> ${name} ${right(r.cps, 8)} ${right(r.inPps, 8)} ${right(r.outPps, 8)}${numbers([r.inBps, r.outBps], o.exact)}\n`;
    }
    case 'thresholds':
      return `  -> ${name} ${[server.upperThreshold, server.lowerThreshold, server.activeConns, server.inactiveConns].map((v) => left(String(v), 10)).join(' ')}\n`;
    case 'persistent-conn':
      return `  -> ${name} ${left(String(server.runningWeight), 9)} ${left(String(server.persistConns), 11)} ${left(String(server.activeConns), 10)} ${left(String(server.inactiveConns), 10)}\n`;
    default:
      return `  -> ${name} ${left(FORWARD_NAME[server.forward], 7)} ${left(String(server.runningWeight), 6)} ${left(String(server.activeConns), 10)} ${left(String(server.inactiveConns), 10)}\n`;
  }
}

/** `-L` body: the title, then each service with its servers. */
export function formatList(services: ListService[], format: ListFormat, o: FormatOptions, withHeader: boolean): string {
  let out = withHeader ? `${IPVS_VERSION_LINE}\n` : '';
  out += listTitle(format);
  for (const service of o.sort ? sortServices(services) : services) {
    out += serviceLine(service, format, o);
    for (const server of service.servers) out += serverLine(server, service.protocol, format, o);
  }
  return out;
}

function ruleService(s: ListService, o: FormatOptions): string {
  return `-${s.protocol === 'tcp' ? 't' : 'u'} ${addressPortName(s.vip, s.port, s.protocol, o.numeric, o.names)}`;
}

/** `-S`: rules that `-R` reads back; LIPs as DPVS-style --add-laddr lines. */
export function formatSave(services: ListService[], o: FormatOptions): string {
  let out = '';
  for (const service of o.sort ? sortServices(services) : services) {
    const svc = ruleService(service, o);
    const mask = maskText(service);
    const persistent = service.persistence ? ` -p ${service.persistence}${mask ? ` -M ${mask}` : ''}` : '';
    // ipvsadm writes " ops" here, which its -R refuses as an unexpected argument: -o restores anywhere.
    out += `-A ${svc} -s ${service.scheduler}${persistent}${service.onePacket ? ' -o' : ''}${service.synproxy ? ' -j enable' : ''}\n`;
    for (const lip of service.localAddresses) out += `--add-laddr ${svc} -z ${lip.address}\n`;
    for (const server of service.servers) {
      // Thresholds only when set, so rules without them read exactly as ipvsadm's.
      const thresholds = (server.upperThreshold ? ` -x ${server.upperThreshold}` : '') + (server.lowerThreshold ? ` -y ${server.lowerThreshold}` : '');
      out += `-a ${svc} -r ${addressPortName(server.address, server.port, service.protocol, o.numeric, o.names)} ${FORWARD_FLAG[server.forward]} -w ${server.weight}${thresholds}\n`;
    }
  }
  return out;
}

function expire(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  return `${String(Math.floor(seconds / 60)).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}`;
}

/** `-Lc`: the connection table. */
export function formatConnections(connections: ListConnection[], o: FormatOptions): string {
  let out = 'IPVS connection entries\n';
  out += `pro expire ${left('state', 11)} ${left('source', 18)} ${left('virtual', 18)} destination\n`;
  for (const c of connections) {
    const name = (a: string, p: number) => addressPortName(a, p, c.protocol, o.numeric, o.names);
    out += `${left(c.protocol.toUpperCase(), 3)} ${left(expire(c.expiresInMs), 6)} ${left(c.state, 11)} ` +
      `${left(name(c.client, c.clientPort), 18)} ${left(name(c.virtual, c.virtualPort), 18)} ${name(c.server, c.serverPort)}\n`;
  }
  return out;
}

export function formatTimeout(tcp: number, tcpFin: number, udp: number): string {
  return `Timeout (tcp tcpfin udp): ${tcp} ${tcpFin} ${udp}\n`;
}

/**
 * DPVS `--get-laddr`: each service's local (SNAT) addresses, with the connections using each
 * (CONNS) and the new connections that found its lports all taken (CONFLICTS). DPVS's formats:
 * title and LIP lines "%-20s %-8s %-20s %-10lu %-10u\n", service line "%-20s %-8u \n", the
 * service always numeric (DPVS formats it with FMT_NUMERIC whatever -n says).
 */
export function formatLocalAddresses(services: ListService[], o: FormatOptions): string {
  let out = `${left('VIP:VPORT', 20)} ${left('TOTAL', 8)} ${left('SNAT_IP', 20)} ${left('CONFLICTS', 10)} ${left('CONNS', 10)}\n`;
  for (const s of o.sort ? sortServices(services) : services) {
    out += `${left(addressPortName(s.vip, s.port, s.protocol, true, o.names), 20)} ${left(String(s.localAddresses.length), 8)} \n`;
    for (const lip of s.localAddresses) {
      out += `${left('', 20)} ${left('', 8)} ${left(lip.address, 20)} ${left(String(lip.conflicts), 10)} ${left(String(lip.conns), 10)}\n`;
    }
  }
  return out;
}
