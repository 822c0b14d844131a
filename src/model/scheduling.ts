// Scheduling options of services and servers, as ipvsadm names them: -b sched flags,
// -p/-M persistence, -x/-y thresholds. Raw input uses the canonical snake_case keys.
// Optional model fields are left out when they hold the default, so a service that
// uses none of this looks exactly as before.
import { invalid, joinPath } from './errors.js';
import { formatIpv4, parseIpv4, readChoice, readInteger, readList, type RawObject } from './fields.js';
import type { IpFamily } from './ip-address.js';
import { LIMITS, SCHED_FLAGS, type SchedFlag, type Scheduler, type ServerSpec, type ServiceSpec } from './types.js';

export const SCHEDULING_SERVICE_KEYS = ['sched_flags', 'persistence_timeout', 'persistence_netmask', 'persistence_prefix_length'] as const;
export const THRESHOLD_SERVER_KEYS = ['upper_threshold', 'lower_threshold'] as const;

type SchedulingFields = Pick<ServiceSpec, 'schedFlags' | 'persistenceTimeout' | 'persistenceNetmask' | 'persistencePrefixLength'>;
type ThresholdFields = Pick<ServerSpec, 'upperThreshold' | 'lowerThreshold'>;

/** sh-* flags only with sh, mh-* only with mh; no repeats. Absent/empty = none. */
function readSchedFlags(value: unknown, path: string, scheduler: Scheduler): SchedFlag[] {
  if (value === undefined || value === null) return [];
  const flags: SchedFlag[] = [];
  readList(value, path, SCHED_FLAGS.length).forEach((item, i) => {
    const itemPath = joinPath(path, i);
    const flag = readChoice(item, itemPath, SCHED_FLAGS);
    if (flags.includes(flag)) throw invalid(itemPath, 'a flag not listed before (duplicate)', flag);
    const owner = flag.slice(0, 2);
    if (owner !== scheduler) throw invalid(itemPath, `a flag of scheduler ${scheduler} (${flag} applies to ${owner} only)`, flag);
    flags.push(flag);
  });
  return flags;
}

/** Seconds 1..31 days; true = ipvsadm's default 300; absent/0/false = not persistent. */
function readPersistenceTimeout(value: unknown, path: string): number {
  if (value === undefined || value === null || value === 0 || value === false) return 0;
  if (value === true) return LIMITS.defaultPersistenceSeconds;
  return readInteger(value, path, 1, LIMITS.maxTimeoutSeconds);
}

/** A contiguous dotted mask ("255.255.255.0"); the mask of /0 is allowed (one network). */
export function readNetmask(value: unknown, path: string): string {
  const parsed = typeof value === 'string' ? parseIpv4(value) : undefined;
  const inverted = parsed === undefined ? -1 : 0xffffffff - parsed;  // host bits: must be 2^k - 1
  if (parsed === undefined || (inverted & (inverted + 1)) !== 0) {
    throw invalid(path, 'a contiguous netmask like 255.255.255.0', value);
  }
  return formatIpv4(parsed);
}

const given = (value: unknown) => value !== undefined && value !== null && value !== '' && value !== 0;

/**
 * -b flags and -p/-M. The persistence granularity is in the clients' family, as IPVS has it: a
 * dotted netmask (persistence_netmask) for an IPv4 VIP, a prefix length (persistence_prefix_length,
 * ipvsadm -M 64) for an IPv6 VIP. Each is stored only when it is not the whole address.
 */
export function readSchedulingFields(raw: RawObject, path: string, scheduler: Scheduler, family: IpFamily = 4): SchedulingFields {
  const fields: SchedulingFields = {};
  const flags = readSchedFlags(raw.sched_flags, joinPath(path, 'sched_flags'), scheduler);
  if (flags.length) fields.schedFlags = flags;
  const timeout = readPersistenceTimeout(raw.persistence_timeout, joinPath(path, 'persistence_timeout'));
  const netmaskPath = joinPath(path, 'persistence_netmask');
  const lengthPath = joinPath(path, 'persistence_prefix_length');
  const netmaskGiven = raw.persistence_netmask !== undefined && raw.persistence_netmask !== null && raw.persistence_netmask !== '';
  const lengthGiven = given(raw.persistence_prefix_length);
  if (family === 6 && netmaskGiven) {
    throw invalid(netmaskPath, 'no netmask for an IPv6 service: give persistence_prefix_length 1..128 (ipvsadm -M 64)', raw.persistence_netmask);
  }
  if (family === 4 && lengthGiven) {
    throw invalid(lengthPath, 'no prefix length for an IPv4 service: give persistence_netmask like 255.255.255.0', raw.persistence_prefix_length);
  }
  if (netmaskGiven && !timeout) {
    throw invalid(netmaskPath, 'no netmask unless persistence_timeout is set (-M needs -p)', raw.persistence_netmask);
  }
  if (lengthGiven && !timeout) {
    throw invalid(lengthPath, 'no prefix length unless persistence_timeout is set (-M needs -p)', raw.persistence_prefix_length);
  }
  if (timeout) {
    fields.persistenceTimeout = timeout;
    if (family === 4) {
      const netmask = netmaskGiven ? readNetmask(raw.persistence_netmask, netmaskPath) : '255.255.255.255';
      if (netmask !== '255.255.255.255') fields.persistenceNetmask = netmask;
    } else {
      const length = lengthGiven ? readInteger(raw.persistence_prefix_length, lengthPath, 1, 128) : 128;
      if (length !== 128) fields.persistencePrefixLength = length;
    }
  }
  return fields;
}

/** 0/absent = none; lower must not exceed upper (IPVS refuses that). */
export function readThresholdFields(raw: RawObject, path: string): ThresholdFields {
  const read = (key: string) =>
    raw[key] === undefined || raw[key] === null ? 0 : readInteger(raw[key], joinPath(path, key), 0, LIMITS.maxThreshold);
  const upper = read('upper_threshold');
  const lower = read('lower_threshold');
  if (lower > upper) {
    throw invalid(joinPath(path, 'lower_threshold'), `at most upper_threshold (${upper})`, lower);
  }
  const fields: ThresholdFields = {};
  if (upper) fields.upperThreshold = upper;
  if (lower) fields.lowerThreshold = lower;
  return fields;
}

/** The canonical raw (snake_case) spelling of a service's scheduling fields: only those set. */
export function schedulingToRaw(service: SchedulingFields): RawObject {
  const raw: RawObject = {};
  if (service.schedFlags?.length) raw.sched_flags = [...service.schedFlags];
  if (service.persistenceTimeout) raw.persistence_timeout = service.persistenceTimeout;
  if (service.persistenceNetmask) raw.persistence_netmask = service.persistenceNetmask;
  if (service.persistencePrefixLength) raw.persistence_prefix_length = service.persistencePrefixLength;
  return raw;
}

/** The canonical raw spelling of a server's thresholds: only those set. */
export function thresholdsToRaw(server: ThresholdFields): RawObject {
  const raw: RawObject = {};
  if (server.upperThreshold) raw.upper_threshold = server.upperThreshold;
  if (server.lowerThreshold) raw.lower_threshold = server.lowerThreshold;
  return raw;
}
