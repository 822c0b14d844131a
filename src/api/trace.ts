// portcullis.v1.Trace: the opt-in packet trace (DESIGN.md §9) over the addon's
// traceSet/traceRead. Services are named by key here and by id in the data plane.
import { addonErrorToModel, type Controller } from '../daemon/controller.js';
import type { DataplaneAddon, TraceOptions, TraceRecord } from '../dataplane/types.js';
import { displayIp, findService, invalid } from '../model/index.js';
import { keyFromProto, keyToProto } from './convert.js';
import type { ReadTraceResponse } from './generated/portcullis/v1/ReadTraceResponse.js';
import type { ServiceKey__Output } from './generated/portcullis/v1/ServiceKey.js';
import type { StartTraceRequest__Output } from './generated/portcullis/v1/StartTraceRequest.js';
import type { TraceHandlers } from './generated/portcullis/v1/Trace.js';
import type { TraceRecord as ProtoTraceRecord } from './generated/portcullis/v1/TraceRecord.js';
import { unary } from './status.js';

export type TraceSource = Pick<DataplaneAddon, 'traceSet' | 'traceRead'>;

export const TRACE_MAX_RECORDS = 4096;

function callAddon<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw addonErrorToModel(error);  // e.g. ESTATE: a worker did not answer in time
  }
}

export function traceOptions(controller: Controller, request: StartTraceRequest__Output): TraceOptions {
  const options: TraceOptions = { enabled: request.enabled };
  if (request.maxRecords > TRACE_MAX_RECORDS) throw invalid('max_records', `0 (default ${TRACE_MAX_RECORDS}) or 1..${TRACE_MAX_RECORDS}`, request.maxRecords);
  if (request.maxRecords) options.maxRecords = request.maxRecords;
  return { ...options, ...packetMatch(controller, request) };
}

/**
 * The packets a trace or a capture takes, as the addon names them: request.service (a service
 * key) as its id, request.port checked against the configured ports. Errors name the field.
 */
export function packetMatch(controller: Controller, request: { service: ServiceKey__Output | null; port: string }):
  { serviceId?: number; port?: string } {
  const match: { serviceId?: number; port?: string } = {};
  if (request.service) match.serviceId = findService(controller.state, keyFromProto(request.service, 'service'), 'service').id;
  if (request.port) {
    const names = controller.state.ports.map((p) => p.name);
    if (!names.includes(request.port)) throw invalid('port', `one of ${names.join(', ')}`, request.port);
    match.port = request.port;
  }
  return match;
}

function recordToProto(controller: Controller, r: TraceRecord): ProtoTraceRecord {
  const service = controller.state.services.find((s) => s.id === r.serviceId);
  return {
    timeUs: r.timeUs, worker: r.worker, port: r.port, protocol: r.protocol === 'tcp' ? 'TCP' : 'UDP',
    inSource: displayIp(r.inSource), inSourcePort: r.inSourcePort, inDestination: displayIp(r.inDestination), inDestinationPort: r.inDestinationPort,
    outSource: displayIp(r.outSource), outSourcePort: r.outSourcePort, outDestination: displayIp(r.outDestination), outDestinationPort: r.outDestinationPort,
    service: service ? keyToProto(service) : null,
    verdict: r.verdict, dropReason: r.dropReason, state: r.state,
  };
}

export function traceHandlers(controller: Controller, source: TraceSource): TraceHandlers {
  return {
    StartTrace: unary((request) => {
      const options = traceOptions(controller, request);
      callAddon(() => source.traceSet(options));
      return {};
    }),
    ReadTrace: unary((): ReadTraceResponse => {
      const { records, lost } = callAddon(() => source.traceRead());
      return { records: records.map((r) => recordToProto(controller, r)), lost };
    }),
  };
}
