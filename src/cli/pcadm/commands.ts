// Runs one parsed pcadm command against the daemon's gRPC API. Daemon errors become
// ipvsadm's messages ("Service not defined", "Memory allocation problem", ...).
import type * as grpc from '@grpc/grpc-js';
import type { PortcullisApi } from '../client.js';
import type { ServiceKey } from '../../api/generated/portcullis/v1/ServiceKey.js';
import type { VirtualService__Output } from '../../api/generated/portcullis/v1/VirtualService.js';
import type { GetStatsResponse__Output } from '../../api/generated/portcullis/v1/GetStatsResponse.js';
import type { TrafficCounters__Output } from '../../api/generated/portcullis/v1/TrafficCounters.js';
import type { TrafficRates__Output } from '../../api/generated/portcullis/v1/TrafficRates.js';
import type { ServiceArg, Parsed } from './args.js';
import { EXIT_FAILED, PcadmError } from './errors.js';
import { isHandingOver } from '../endpoint.js';
import {
  formatConnections, formatList, formatLocalAddresses, formatSave, formatTimeout,
  type ForwardMethod, type FormatOptions, type ListConnection, type ListService,
} from './format.js';
import type { NameTables } from './names.js';

const GRPC_NOT_FOUND = 5;
const GRPC_ALREADY_EXISTS = 6;
const GRPC_RESOURCE_EXHAUSTED = 8;
const GRPC_UNAVAILABLE = 14;
const GRPC_PERMISSION_DENIED = 7;
const GRPC_UNAUTHENTICATED = 16;
const LIST_PAGE = 4096;
const DEFAULT_SCHEDULER = 'wlc';

export interface CommandContext {
  api: PortcullisApi;
  /** gRPC target, for "cannot reach" messages. */
  target: string;
  names: NameTables;
  write(text: string): void;
}

/** The gRPC RealServer.forward text ("" = fullnat). */
function forwardMethod(text: string | undefined): ForwardMethod {
  return text === 'nat' || text === 'dr' || text === 'tun' ? text : 'fullnat';
}

function key(service: ServiceArg): ServiceKey {
  return { protocol: service.protocol === 'tcp' ? 'TCP' : 'UDP', vip: service.vip, port: service.port };
}

/** ipvs_strerror() for the daemon's status codes, per command. */
export function daemonFailure(error: unknown, command: Parsed['command'], target: string): PcadmError {
  const e = error as Partial<grpc.ServiceError>;
  const details = e.details ?? String(error);
  const fail = (message: string) => new PcadmError(EXIT_FAILED, message);
  const serverCommand = command === 'add-server' || command === 'edit-server' || command === 'delete-server';
  switch (e.code) {
    case GRPC_UNAVAILABLE:
      if (isHandingOver(details)) return fail(details);
      return fail(`Can't initialize ipvs: cannot reach the Portcullis daemon at ${target} (is it running? set PCADM_SOCKET, --socket or --server)`);
    case GRPC_UNAUTHENTICATED:
      return fail(`Can't initialize ipvs: not authenticated by ${target}: ${details} (use --token-file, PORTCULLIS_TOKEN or --tls-cert/--tls-key)`);
    case GRPC_PERMISSION_DENIED:
      // ipvsadm's EPERM text, then who was refused what.
      return fail(`Permission denied (you must be an operator): ${details}`);
    case GRPC_ALREADY_EXISTS:
      return fail(serverCommand ? 'Destination already exists' : 'Service already exists');
    case GRPC_NOT_FOUND:
      if (serverCommand) return fail(/virtual service/.test(details) ? 'Service not defined' : 'No such destination');
      return fail('No such service');
    case GRPC_RESOURCE_EXHAUSTED:
      return fail('Memory allocation problem');
    default:
      // The validator (or the data plane) names the field: ipvsadm's ENOENT text for it.
      if (/scheduler: expected one of/.test(details)) return fail('Scheduler not found');
      return fail(details);
  }
}

const toNumber = (value: string | number | undefined) => Number(value ?? 0);

/** Joins the service list with the stats into the formatter's plain data. */
export function listServices(services: VirtualService__Output[], stats: GetStatsResponse__Output): ListService[] {
  const sameKey = (a: ServiceKey | null | undefined, b: ServiceKey | null | undefined) =>
    !!a && !!b && a.protocol === b.protocol && a.vip === b.vip && a.port === b.port;
  return services.map((service) => {
    const s = stats.services.find((entry) => sameKey(entry.key, service.key));
    const counters = (c: TrafficCounters__Output | null | undefined) => ({
      conns: toNumber(c?.conns), inPackets: toNumber(c?.inPackets), outPackets: toNumber(c?.outPackets),
      inBytes: toNumber(c?.inBytes), outBytes: toNumber(c?.outBytes),
    });
    const rates = (r: TrafficRates__Output | null | undefined) => ({
      cps: toNumber(r?.cps), inPps: toNumber(r?.inPps), outPps: toNumber(r?.outPps), inBps: toNumber(r?.inBps), outBps: toNumber(r?.outBps),
    });
    return {
      protocol: service.key?.protocol === 'UDP' ? 'udp' : 'tcp',
      vip: service.key?.vip ?? '',
      port: service.key?.port ?? 0,
      scheduler: service.scheduler || 'rr',
      persistence: service.persistenceTimeout ?? 0,
      netmask: service.persistenceNetmask ?? '',
      prefixLength: service.persistencePrefixLength ?? 0,
      synproxy: service.synproxy === 'on',
      onePacket: service.onePacket ?? false,
      localAddresses: service.localAddresses.map((address) => {
        const l = s?.localAddresses.find((entry) => entry.address === address);
        return { address, conns: toNumber(l?.connections), conflicts: toNumber(l?.conflicts) };
      }),
      stats: counters(s?.counters),
      rates: rates(s?.rates),
      servers: service.servers.map((server) => {
        const t = s?.servers.find((entry) => entry.address === server.address && entry.port === server.port);
        return {
          address: server.address,
          port: server.port,
          weight: server.weight,
          runningWeight: server.health === 'down' ? 0 : server.weight,
          forward: forwardMethod(server.forward),
          upperThreshold: server.upperThreshold ?? 0,
          lowerThreshold: server.lowerThreshold ?? 0,
          activeConns: toNumber(t?.counters?.activeConns),
          inactiveConns: toNumber(t?.counters?.inactiveConns),
          persistConns: toNumber(t?.persistentConnections),
          stats: counters(t?.counters),
          rates: rates(t?.rates),
        };
      }),
    };
  });
}

async function fetchServices(api: PortcullisApi): Promise<ListService[]> {
  const [list, stats] = await Promise.all([api.listVirtualServices({}), api.getStats({})]);
  return listServices(list.services, stats);
}

async function fetchConnections(api: PortcullisApi): Promise<ListConnection[]> {
  const all: ListConnection[] = [];
  // A record position as a decimal string (uint64); "0" = done. A short or empty page is not the end.
  let cursor = '0';
  do {
    const page = await api.listConnections({ cursor, limit: LIST_PAGE });
    for (const c of page.connections) {
      all.push({
        protocol: c.protocol === 'UDP' ? 'udp' : 'tcp',
        client: c.client, clientPort: c.clientPort,
        virtual: c.virtual, virtualPort: c.virtualPort,
        server: c.server, serverPort: c.serverPort,
        state: c.state,
        expiresInMs: toNumber(c.expiresInMs),
      });
    }
    cursor = String(page.nextCursor);
  } while (cursor !== '0');
  return all;
}

/** Re-sends a service with its LIP pool changed (servers untouched). */
async function editLocalAddresses(api: PortcullisApi, service: ServiceArg, change: (lips: string[]) => string[]): Promise<void> {
  const current = await api.getVirtualService({ key: key(service) });
  await api.updateVirtualService({ service: { ...current, localAddresses: change([...current.localAddresses]) }, replaceServers: false });
}

export async function runCommand(parsed: Parsed, context: CommandContext): Promise<void> {
  const { api } = context;
  const format: FormatOptions = { numeric: parsed.numeric, exact: parsed.exact, sort: parsed.sort, names: context.names };
  try {
    switch (parsed.command) {
      case 'add-service':
        // ipvsadm's defaults: scheduler wlc, not persistent, mask /32.
        await api.createVirtualService({ service: {
          key: key(parsed.service!), scheduler: parsed.scheduler ?? DEFAULT_SCHEDULER,
          persistenceTimeout: parsed.persistence ?? 0, persistenceNetmask: parsed.netmask ?? '', persistencePrefixLength: parsed.prefixLength ?? 0,
          ...(parsed.synproxy ? { synproxy: parsed.synproxy } : {}),
          onePacket: parsed.onePacket ?? false,
        } });
        return;
      case 'edit-service': {
        const current = await api.getVirtualService({ key: key(parsed.service!) });
        await api.updateVirtualService({ service: {
          ...current,
          scheduler: parsed.scheduler ?? current.scheduler,
          ...(parsed.persistence !== undefined ? { persistenceTimeout: parsed.persistence } : {}),
          ...(parsed.netmask !== undefined ? { persistenceNetmask: parsed.netmask } : {}),
          ...(parsed.prefixLength !== undefined ? { persistencePrefixLength: parsed.prefixLength } : {}),
          ...(parsed.synproxy ? { synproxy: parsed.synproxy } : {}),
          // ipvsadm -E sends the flags of its command line: without -o, one-packet goes off.
          onePacket: parsed.onePacket ?? false,
        }, replaceServers: false });
        return;
      }
      case 'delete-service':
        await api.deleteVirtualService({ key: key(parsed.service!) });
        return;
      case 'clear':
        for (const service of (await api.listVirtualServices({})).services) await api.deleteVirtualService({ key: service.key! });
        return;
      case 'add-server': case 'edit-server': {
        // ipvsadm: -w defaults to 1 on -a and -e alike.
        const request = { service: key(parsed.service!), server: {
          ...parsed.server!, weight: parsed.weight ?? 1, forward: parsed.forward ?? 'fullnat',
          upperThreshold: parsed.upperThreshold ?? 0, lowerThreshold: parsed.lowerThreshold ?? 0,
        } };
        if (parsed.command === 'add-server') await api.addRealServer(request);
        else await api.updateRealServer(request);
        return;
      }
      case 'delete-server':
        await api.removeRealServer({ service: key(parsed.service!), address: parsed.server!.address, port: parsed.server!.port });
        return;
      case 'add-laddr':
        await editLocalAddresses(api, parsed.service!, (lips) => {
          if (lips.includes(parsed.localAddress!)) throw new PcadmError(EXIT_FAILED, 'Local address already exists');
          return [...lips, parsed.localAddress!];
        });
        return;
      case 'del-laddr':
        await editLocalAddresses(api, parsed.service!, (lips) => {
          if (!lips.includes(parsed.localAddress!)) throw new PcadmError(EXIT_FAILED, 'No such local address');
          return lips.filter((lip) => lip !== parsed.localAddress);
        });
        return;
      case 'get-laddr': {
        let services = await fetchServices(api);
        if (parsed.service) services = services.filter((s) => s.protocol === parsed.service!.protocol && s.vip === parsed.service!.vip && s.port === parsed.service!.port);
        if (parsed.service && services.length === 0) throw new PcadmError(EXIT_FAILED, 'No such service');
        context.write(formatLocalAddresses(services, format));
        return;
      }
      case 'zero':
        await api.zeroStats(parsed.service ? { key: key(parsed.service) } : {});
        return;
      case 'save':
        context.write(formatSave(await fetchServices(api), format));
        return;
      case 'list':
        await list(parsed, context, format);
        return;
      case 'set':
        throw new PcadmError(EXIT_FAILED, '--set: changing the default timeouts at run time is not implemented yet; set them in the daemon configuration (timeouts:)');
      case 'help': case 'restore':
        throw new Error(`${parsed.command} is handled by the caller`);
    }
  } catch (error) {
    if (error instanceof PcadmError) throw error;
    if ((error as { code?: unknown }).code === undefined) throw error;
    throw daemonFailure(error, parsed.command, context.target);
  }
}

async function list(parsed: Parsed, context: CommandContext, format: FormatOptions): Promise<void> {
  const { api } = context;
  const conflicting = (parsed.connections || parsed.timeout) && parsed.format !== 'default';
  if (conflicting) throw new PcadmError(2, 'options conflicts in the list command');
  if (parsed.connections) {
    context.write(formatConnections(await fetchConnections(api), format));
  } else if (parsed.service) {
    const services = (await fetchServices(api)).filter((s) =>
      s.protocol === parsed.service!.protocol && s.vip === parsed.service!.vip && s.port === parsed.service!.port);
    // ipvsadm's list_service exits 1 when the service does not exist.
    if (services.length === 0) throw new PcadmError(1, 'No such service');
    context.write(formatList(services, parsed.format, format, false));
  } else if (parsed.timeout) {
    const status = await api.getStatus({});
    const t = status.defaultTimeouts;
    context.write(formatTimeout(t?.tcpEstablished ?? 0, t?.tcpFinWait ?? 0, t?.udp ?? 0));
  } else {
    context.write(formatList(await fetchServices(api), parsed.format, format, true));
  }
}
