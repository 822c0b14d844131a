// ipvsadm's command line: one command, its options, combined short flags (-Ln, -Lnc),
// long forms (--list, --tcp-service=VIP:port), DPVS FullNAT extensions. Returns a
// plain description of what to do, or throws PcadmError with ipvsadm's exit code.
import { EXIT_BAD_ARGUMENT as BAD, EXIT_FAILED, PcadmError, TRY_HELP } from './errors.js';
import { canonicalIpv6, isIpv4, resolveHost, resolvePort, type NameTables, type Proto } from './names.js';

export type Command =
  | 'add-service' | 'edit-service' | 'delete-service' | 'clear' | 'restore' | 'save'
  | 'add-server' | 'edit-server' | 'delete-server' | 'list' | 'zero' | 'set' | 'help'
  | 'add-laddr' | 'del-laddr' | 'get-laddr';

export interface ServiceArg { protocol: Proto; vip: string; port: number }

export interface Parsed {
  command: Command;
  service?: ServiceArg;
  scheduler?: string;
  server?: { address: string; port: number };
  weight?: number;
  /** -b / -m / -g / -i; absent = FullNAT (Portcullis's default; ipvsadm's is -g). */
  forward?: 'fullnat' | 'nat' | 'dr' | 'tun';
  upperThreshold?: number;
  lowerThreshold?: number;
  /** -p [timeout] (seconds). */
  persistence?: number;
  /** -M for an IPv4 service: a dotted netmask. */
  netmask?: string;
  /** -M for an IPv6 service: a prefix length 1..128 (ipvsadm reads -M by the service's family). */
  prefixLength?: number;
  synproxy?: 'on' | 'off';
  /** -o / --ops: one-packet scheduling (UDP). */
  onePacket?: boolean;
  localAddress?: string;
  numeric: boolean;
  connections: boolean;
  format: 'default' | 'stats' | 'rate' | 'thresholds' | 'persistent-conn';
  timeout: boolean;
  exact: boolean;
  sort: boolean;
}

interface OptionSpec {
  long: string;
  short?: string;
  /** 'none' flag, 'required' value, 'optional' value (only taken when it looks like one). */
  value: 'none' | 'required' | 'optional';
  command?: Command;
}

const OPTIONS: OptionSpec[] = [
  { long: 'add-service', short: 'A', value: 'none', command: 'add-service' },
  { long: 'edit-service', short: 'E', value: 'none', command: 'edit-service' },
  { long: 'delete-service', short: 'D', value: 'none', command: 'delete-service' },
  { long: 'clear', short: 'C', value: 'none', command: 'clear' },
  { long: 'restore', short: 'R', value: 'none', command: 'restore' },
  { long: 'save', short: 'S', value: 'none', command: 'save' },
  { long: 'add-server', short: 'a', value: 'none', command: 'add-server' },
  { long: 'edit-server', short: 'e', value: 'none', command: 'edit-server' },
  { long: 'delete-server', short: 'd', value: 'none', command: 'delete-server' },
  { long: 'list', short: 'L', value: 'none', command: 'list' },
  { long: 'list', short: 'l', value: 'none', command: 'list' },
  { long: 'zero', short: 'Z', value: 'none', command: 'zero' },
  { long: 'set', value: 'none', command: 'set' },
  { long: 'help', short: 'h', value: 'none', command: 'help' },
  { long: 'add-laddr', short: 'P', value: 'none', command: 'add-laddr' },
  { long: 'del-laddr', short: 'Q', value: 'none', command: 'del-laddr' },
  { long: 'get-laddr', short: 'G', value: 'none', command: 'get-laddr' },
  { long: 'tcp-service', short: 't', value: 'required' },
  { long: 'udp-service', short: 'u', value: 'required' },
  { long: 'fwmark-service', short: 'f', value: 'required' },
  { long: 'scheduler', short: 's', value: 'required' },
  { long: 'persistent', short: 'p', value: 'optional' },
  { long: 'netmask', short: 'M', value: 'required' },
  { long: 'real-server', short: 'r', value: 'required' },
  { long: 'gatewaying', short: 'g', value: 'none' },
  { long: 'ipip', short: 'i', value: 'none' },
  { long: 'masquerading', short: 'm', value: 'none' },
  { long: 'fullnat', short: 'b', value: 'none' },
  { long: 'weight', short: 'w', value: 'required' },
  { long: 'u-threshold', short: 'x', value: 'required' },
  { long: 'l-threshold', short: 'y', value: 'required' },
  { long: 'laddr', short: 'z', value: 'required' },
  { long: 'ifname', short: 'F', value: 'required' },
  { long: 'synproxy', short: 'j', value: 'required' },
  { long: 'ops', short: 'o', value: 'none' },
  { long: 'numeric', short: 'n', value: 'none' },
  { long: 'connection', short: 'c', value: 'none' },
  { long: 'stats', value: 'none' },
  { long: 'rate', value: 'none' },
  { long: 'thresholds', value: 'none' },
  { long: 'persistent-conn', value: 'none' },
  { long: 'timeout', value: 'none' },
  { long: 'exact', value: 'none' },
  { long: 'sort', value: 'none' },
  { long: 'nosort', value: 'none' },
];

const NOT_YET: Record<string, string> = {
  'fwmark-service': 'firewall-mark services (-f) are not implemented yet; use -t or -u',
};

interface Occurrence { spec: OptionSpec; value?: string; spelled: string }

function findLong(name: string): OptionSpec {
  const exact = OPTIONS.find((o) => o.long === name);
  if (exact) return exact;
  // popt accepts unambiguous prefixes of long options.
  const prefixed = OPTIONS.filter((o) => o.long.startsWith(name));
  const distinct = new Set(prefixed.map((o) => o.long));
  if (distinct.size === 1) return prefixed[0]!;
  throw new PcadmError(distinct.size ? EXIT_FAILED : BAD, distinct.size ? `--${name}: option is ambiguous` : `invalid option \`--${name}'`);
}

function looksLikeValue(arg: string | undefined): arg is string {
  return arg !== undefined && !arg.startsWith('-');
}

/** Splits argv into option occurrences (ipvsadm takes no positional arguments). */
export function tokenize(argv: readonly string[], positionals: string[] = []): Occurrence[] {
  const out: Occurrence[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith('--')) {
      const [name, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
      const spec = findLong(name);
      let value = inline;
      if (value === undefined && spec.value === 'required') {
        if (i + 1 >= argv.length) throw new PcadmError(EXIT_FAILED, `--${spec.long}: missing argument`);
        value = argv[++i];
      } else if (value === undefined && spec.value === 'optional' && looksLikeValue(argv[i + 1])) {
        value = argv[++i];
      } else if (value !== undefined && spec.value === 'none') {
        throw new PcadmError(EXIT_FAILED, `--${spec.long}: option does not take an argument`);
      }
      out.push({ spec, value, spelled: `--${spec.long}` });
    } else if (arg.startsWith('-') && arg.length > 1) {
      for (let j = 1; j < arg.length; j++) {
        const spec = OPTIONS.find((o) => o.short === arg[j]);
        if (!spec) throw new PcadmError(BAD, `invalid option \`-${arg[j]}'`);
        const rest = arg.slice(j + 1);
        if (spec.value === 'none') {
          out.push({ spec, spelled: `-${arg[j]}` });
          continue;
        }
        let value: string | undefined = rest || undefined;
        if (value === undefined) {
          if (spec.value === 'required') {
            if (i + 1 >= argv.length) throw new PcadmError(EXIT_FAILED, `-${arg[j]}: missing argument`);
            value = argv[++i];
          } else if (looksLikeValue(argv[i + 1])) {
            value = argv[++i];
          }
        }
        out.push({ spec, value, spelled: `-${arg[j]}` });
        break;
      }
    } else {
      positionals.push(arg);  // only --set takes them (tcp tcpfin udp)
    }
  }
  return out;
}

const FORWARD_OPTIONS: Record<string, NonNullable<Parsed['forward']>> = {
  fullnat: 'fullnat', masquerading: 'nat', gatewaying: 'dr', ipip: 'tun',
};

const DEFAULT_PERSISTENCE = 300;
const MAX_TIMEOUT = 86400 * 31;

/**
 * ipvsadm's parse_service: "host[:port]", "[ipv6]:port", or bare IPv6 text without a port.
 * Returns the address (canonical) and the port text, or why the text is not one: '' when it is
 * no address at all (ipvsadm's message alone, as before), else what is wrong with the IPv6 form.
 */
export function splitAddressPort(text: string, names: NameTables): { address: string; port?: string } | string {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return `"${text}" has no closing "]"`;
    const inside = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (!rest.startsWith(':') || rest.length === 1) return `"${text}": expected ":port" after "]"`;
    if (isIpv4(inside)) return `"${text}": brackets go around an IPv6 address only (write ${inside}${rest})`;
    const address = canonicalIpv6(inside);
    if (!address) return `"${text}": "${inside}" is not an IPv6 address`;
    return { address, port: rest.slice(1) };
  }
  const v6 = canonicalIpv6(text);
  if (v6) return { address: v6 };
  const match = /^([^:]+)(?::([^:]+))?$/.exec(text);
  const address = match ? resolveHost(match[1]!, names) : undefined;
  if (!match || !address) return (text.match(/:/g) ?? []).length > 1
    ? `"${text}" is not an IPv6 address (with a port it goes in brackets, like [2001:db8:18::10]:80)`
    : '';
  return match[2] === undefined ? { address } : { address, port: match[2] };
}

function parseService(protocol: Proto, text: string, names: NameTables): ServiceArg {
  const split = splitAddressPort(text, names);
  const port = typeof split === 'string' || split.port === undefined ? 0 : resolvePort(split.port, protocol, names);
  if (typeof split === 'string' || port === undefined) {
    throw new PcadmError(BAD, `illegal virtual server address[:port] specified${typeof split === 'string' && split ? `: ${split}` : ''}`);
  }
  return { protocol, vip: split.address, port };
}

function parseInteger(text: string | undefined, min: number, max: number, what: string): number {
  if (text === undefined || !/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new PcadmError(BAD, `illegal ${what} specified`);
  }
  return Number(text);
}

export function parseCommandLine(argv: readonly string[], names: NameTables): Parsed {
  const parsed: Parsed = {
    command: 'help', numeric: false, connections: false, format: 'default', timeout: false, exact: false, sort: true,
  };
  let command: Command | undefined;
  let serverText: string | undefined;
  let netmaskText: string | undefined;
  const positionals: string[] = [];
  for (const { spec, value, spelled } of tokenize(argv, positionals)) {
    if (spec.command) {
      if (command && command !== spec.command) throw new PcadmError(BAD, 'multiple commands specified');
      command = spec.command;
      continue;
    }
    const refusal = NOT_YET[spec.long];
    if (refusal) throw new PcadmError(BAD, `${spelled}: ${refusal}`);
    const forward = FORWARD_OPTIONS[spec.long];
    if (forward) {
      // ipvsadm's set_option(): one forwarding method per command line.
      if (parsed.forward && parsed.forward !== forward) throw new PcadmError(BAD, "multiple 'forwarding-method' options specified");
      parsed.forward = forward;
      continue;
    }
    switch (spec.long) {
      case 'tcp-service': case 'udp-service':
        if (parsed.service) throw new PcadmError(BAD, "multiple 'service-address' options specified");
        parsed.service = parseService(spec.long === 'tcp-service' ? 'tcp' : 'udp', value!, names);
        break;
      case 'scheduler': parsed.scheduler = value!; break;
      case 'real-server': serverText = value!; break;
      case 'weight': parsed.weight = parseInteger(value, 0, 65535, 'weight'); break;
      case 'u-threshold': parsed.upperThreshold = parseInteger(value, 0, 65535, 'u_threshold'); break;
      case 'l-threshold': parsed.lowerThreshold = parseInteger(value, 0, 65535, 'l_threshold'); break;
      case 'persistent':
        // ipvsadm: -p without a value = 300 s; 1..MAX_TIMEOUT (31 days).
        if (value !== undefined && !(/^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= MAX_TIMEOUT)) {
          throw new PcadmError(BAD, `invalid timeout value \`${value}' specified`);
        }
        parsed.persistence = value === undefined ? DEFAULT_PERSISTENCE : Number(value);
        break;
      case 'netmask': netmaskText = value!; break;
      case 'synproxy':
        // DPVS: -j enable|disable (prefix match, as its memcmp does).
        if (value?.startsWith('enable')) parsed.synproxy = 'on';
        else if (value?.startsWith('disable')) parsed.synproxy = 'off';
        else throw new PcadmError(BAD, 'synproxy switch must be enable or disable');
        break;
      case 'laddr': {
        const address = isIpv4(value!) ? value! : canonicalIpv6(value!);
        if (!address) {
          const hint = value!.startsWith('[') ? ': write an IPv6 local address without brackets' : '';
          throw new PcadmError(BAD, `illegal local address specified${hint}`);
        }
        parsed.localAddress = address;
        break;
      }
      case 'ops': parsed.onePacket = true; break;
      case 'numeric': parsed.numeric = true; break;
      case 'connection': parsed.connections = true; break;
      case 'stats': case 'rate': case 'thresholds': case 'persistent-conn': parsed.format = spec.long; break;
      case 'timeout': parsed.timeout = true; break;
      case 'exact': parsed.exact = true; break;
      case 'sort': parsed.sort = true; break;
      case 'nosort': parsed.sort = false; break;
      default: break;  // -F (interface: ports are configured in the daemon)
    }
  }
  if (!command) throw new PcadmError(EXIT_FAILED, TRY_HELP);
  parsed.command = command;
  if (netmaskText !== undefined) {
    // ipvsadm: -M is a dotted mask for an IPv4 service, a prefix length 1..128 for an IPv6 one.
    if (parsed.service?.vip.includes(':')) {
      if (!/^\d{1,3}$/.test(netmaskText) || Number(netmaskText) < 1 || Number(netmaskText) > 128) {
        throw new PcadmError(BAD, 'illegal ipv6 netmask specified (expected a prefix length 1..128, like -M 64)');
      }
      parsed.prefixLength = Number(netmaskText);
    } else {
      if (!isIpv4(netmaskText)) throw new PcadmError(BAD, 'illegal virtual server persistent mask specified');
      parsed.netmask = netmaskText;
    }
  }
  if ((command === 'add-service' || command === 'edit-service') && parsed.service?.port === 0 && parsed.persistence === undefined) {
    throw new PcadmError(BAD, 'Zero port specified for non-persistent service');
  }
  if (command === 'set') {
    if (positionals.length < 3) throw new PcadmError(BAD, '--set option requires 3 timeout values');
    positionals.splice(0, 3);
  }
  // ipvsadm -S writes one-packet services as "-A ... ops" (a word its own -R then refuses):
  // read it as -o, so rules saved by ipvsadm restore here.
  if ((command === 'add-service' || command === 'edit-service') && positionals.length === 1 && positionals[0] === 'ops') {
    positionals.length = 0;
    parsed.onePacket = true;
  }
  if (positionals.length > 0) throw new PcadmError(BAD, `unexpected argument ${positionals[0]}`);
  if (serverText !== undefined) {
    const proto = parsed.service?.protocol ?? 'tcp';
    const split = splitAddressPort(serverText, names);
    if (typeof split === 'string') throw new PcadmError(BAD, `illegal real server address[:port] specified${split ? `: ${split}` : ''}`);
    // ipvsadm: a real server without a port takes the service's port.
    const port = split.port === undefined ? parsed.service?.port ?? 0 : resolvePort(split.port, proto, names);
    if (port === undefined || port === 0) throw new PcadmError(BAD, 'illegal real server address[:port] specified');
    parsed.server = { address: split.address, port };
  }
  const needsService: Command[] = ['add-service', 'edit-service', 'delete-service', 'add-server', 'edit-server', 'delete-server', 'add-laddr', 'del-laddr'];
  const need = (option: string) => new PcadmError(BAD, `You need to supply the '${option}' option for the '${command}' command`);
  if (needsService.includes(command) && !parsed.service) throw need('service-address');
  const needsServer: Command[] = ['add-server', 'edit-server', 'delete-server'];
  if (needsServer.includes(command) && !parsed.server) throw need('real-server');
  if ((command === 'add-laddr' || command === 'del-laddr') && !parsed.localAddress) throw need('laddr');
  return parsed;
}
