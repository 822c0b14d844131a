// portcullis.v1.Config: declarative apply for orchestration, and the configuration's generations.
// ApplyState = read every field of the request (errors name "services[i]…", nothing changes) →
// the model builds ONE new state (src/model/apply-state.ts) → Controller.mutate applies it as one
// snapshot and one state-file write, in the same queue as every other change, so the
// expected_generation check and the change are one step: of two appliers racing on a generation,
// exactly one wins, the other is ABORTED. WatchConfig streams each committed generation.
import type * as grpc from '@grpc/grpc-js';
import type { ConfigChange, Controller } from '../daemon/controller.js';
import { log } from '../log.js';
import {
  applyDesiredConfig, diffSummary, joinPath, ModelError, readRoute, sameKey, serviceKeyText,
  type ConfigDiff, type DesiredConfig, type RouteChange, type ServiceChange, type ServiceKey,
} from '../model/index.js';
import { callerOf } from './auth.js';
import { keyToProto, serviceSpecFromProto } from './convert.js';
import type { ApplyStateRequest__Output } from './generated/portcullis/v1/ApplyStateRequest.js';
import type { ApplyStateResponse } from './generated/portcullis/v1/ApplyStateResponse.js';
import type { ConfigHandlers } from './generated/portcullis/v1/Config.js';
import type { ConfigGeneration } from './generated/portcullis/v1/ConfigGeneration.js';
import type { RouteChange as ProtoRouteChange } from './generated/portcullis/v1/RouteChange.js';
import type { ServiceChange as ProtoServiceChange } from './generated/portcullis/v1/ServiceChange.js';
import type { WatchConfigRequest__Output } from './generated/portcullis/v1/WatchConfigRequest.js';
import { streamCallerOrEnd } from './stats-streams.js';
import { toServiceError, unary } from './status.js';

/**
 * Generations a WatchConfig stream holds for a client that does not read (beyond the few the
 * transport has taken); one more ends the stream with RESOURCE_EXHAUSTED. A watcher that far
 * behind must re-read the whole configuration anyway.
 */
export const WATCH_CONFIG_MAX_PENDING = 32;
/** Concurrent WatchConfig streams per caller (as WatchStats counts them); the next one is RESOURCE_EXHAUSTED. */
export const WATCH_CONFIG_MAX_STREAMS_PER_CALLER = 8;

function serviceChangeToProto(change: ServiceChange): ProtoServiceChange {
  return { action: change.action, key: keyToProto(change.key), name: change.name, fields: change.fields };
}

function routeChangeToProto(change: RouteChange): ProtoRouteChange {
  return { action: change.action, prefix: change.prefix, fields: change.fields };
}

function diffToProto(diff: ConfigDiff): { services: ProtoServiceChange[]; routes: ProtoRouteChange[] } {
  return { services: diff.services.map(serviceChangeToProto), routes: diff.routes.map(routeChangeToProto) };
}

/** uint64 as it arrives (a decimal string) → a number; 0 = no check. */
function readGeneration(value: string | number, path: string): number | undefined {
  const text = String(value);
  if (!/^\d{1,15}$/.test(text)) throw new ModelError('INVALID_ARGUMENT', path, `expected 0 (no check) or a generation below 2^53, got ${text}`);
  const generation = Number(text);
  return generation === 0 ? undefined : generation;
}

/** Every field of the request, read before the model sees anything. */
export function desiredConfigFromProto(request: ApplyStateRequest__Output): DesiredConfig {
  const services = request.services.map((service, i) => serviceSpecFromProto(service, joinPath('services', i)));
  const routes = request.applyRoutes
    ? request.routes.map((route, i) => readRoute({ prefix: route.prefix, via: route.via || undefined, port: route.port }, joinPath('routes', i)))
    : undefined;
  if (!request.applyRoutes && request.routes.length > 0) {
    throw new ModelError('INVALID_ARGUMENT', 'routes', 'routes were sent without apply_routes: set apply_routes to apply them (an empty list with it deletes them all with prune)');
  }
  const expectedGeneration = readGeneration(request.expectedGeneration, 'expected_generation');
  return {
    services,
    ...(routes ? { routes } : {}),
    prune: request.prune,
    ...(expectedGeneration === undefined ? {} : { expectedGeneration }),
  };
}

function callerText(metadata: grpc.Metadata): string {
  const caller = callerOf(metadata);
  return caller.transport === 'tcp' ? caller.identity : 'unix socket';
}

export async function applyState(controller: Controller, request: ApplyStateRequest__Output, metadata: grpc.Metadata): Promise<ApplyStateResponse> {
  const desired = desiredConfigFromProto(request);
  const caller = callerText(metadata);
  const unlistedOf = (services: readonly ServiceKey[]) => desired.prune ? [] : services
    .filter((s) => !desired.services.some((d) => sameKey(d, s))).map(keyToProto);
  if (request.dryRun) {
    // Computed on the state as it is now; a later change may make the real apply differ (expected_generation guards that).
    const { result } = applyDesiredConfig(controller.state, desired);
    return { generation: controller.generation, applied: false, ...diffToProto(result.diff), unlisted: unlistedOf(controller.state.services) };
  }
  let unlisted: ReturnType<typeof unlistedOf> = [];
  let outcome;
  try {
    outcome = await controller.mutate((state) => {
      const change = applyDesiredConfig(state, desired);
      unlisted = unlistedOf(state.services);
      return change;
    }, { unchanged: (result) => result.diff.services.length === 0 && result.diff.routes.length === 0 });
  } catch (error) {
    if (error instanceof ModelError) {
      log.info(`configuration apply by ${caller} refused: ${error.message}`, { event: 'config_apply', caller, outcome: 'refused', code: error.code });
    }
    throw error;
  }
  const counts = diffSummary(outcome.diff);
  const applied = counts.created + counts.updated + counts.deleted > 0;
  if (applied) {
    const what = [...outcome.diff.services.map((c) => `${c.action} ${serviceKeyText(c.key)}`), ...outcome.diff.routes.map((c) => `${c.action} route ${c.prefix}`)];
    log.info(`configuration applied by ${caller}: generation ${outcome.generation}: ${what.join(', ')}`,
      { event: 'config_apply', caller, outcome: 'applied', generation: outcome.generation, ...counts });
  }
  return { generation: outcome.generation, applied, ...diffToProto(outcome.diff), unlisted };
}

/**
 * The current generation, then each committed one. Messages go to the transport only while it
 * takes them (write() true, or after 'drain'); the rest wait here, at most WATCH_CONFIG_MAX_PENDING,
 * then the stream is ended with RESOURCE_EXHAUSTED and forgotten: a client that never reads costs a
 * bounded amount of memory, whatever the rate of changes.
 */
export function watchConfig(controller: Controller): grpc.handleServerStreamingCall<WatchConfigRequest__Output, ConfigGeneration> {
  const openPerCaller = new Map<string, number>();
  return (call) => {
    const fail = (error: unknown) => call.emit('error', toServiceError(error));
    const caller = streamCallerOrEnd(call);
    if (caller === undefined) return;
    const open = openPerCaller.get(caller) ?? 0;
    if (open >= WATCH_CONFIG_MAX_STREAMS_PER_CALLER) {
      fail(new ModelError('RESOURCE_EXHAUSTED', '',
        `WatchConfig: ${caller} already has ${WATCH_CONFIG_MAX_STREAMS_PER_CALLER} streams open (the most per caller); cancel one first`));
      return;
    }
    openPerCaller.set(caller, open + 1);
    const pending: ConfigGeneration[] = [];
    let mustDrain = false;
    let watching = true;
    let released = false;
    const flush = () => {
      while (watching && !mustDrain && pending.length > 0) {
        if (!call.write(pending.shift()!)) mustDrain = true;
      }
    };
    const stopWatching = () => {
      if (!watching) return;
      watching = false;
      unsubscribe();
      pending.length = 0;
    };
    // The caller's place is given back only once the call is over: a stream ended for not reading
    // still holds what the transport took until its client reads or goes away.
    const release = () => {
      stopWatching();
      if (released) return;
      released = true;
      const left = (openPerCaller.get(caller) ?? 1) - 1;
      if (left > 0) openPerCaller.set(caller, left);
      else openPerCaller.delete(caller);
    };
    const unsubscribe = controller.onConfigChange((change: ConfigChange) => {
      if (!watching) return;
      if (call.cancelled || call.destroyed) { release(); return; }
      pending.push({ generation: change.generation, initial: false, ...diffToProto(change.diff) });
      if (pending.length > WATCH_CONFIG_MAX_PENDING) {
        stopWatching();
        fail(new ModelError('RESOURCE_EXHAUSTED', '', `WatchConfig: the client did not read ${WATCH_CONFIG_MAX_PENDING} generations in time `
          + `(now at ${change.generation}); the stream is ended: read the configuration again and watch again`));
        return;
      }
      flush();
    });
    call.on('drain', () => { mustDrain = false; flush(); });
    call.on('cancelled', release);
    call.on('close', release);
    call.on('finish', release);
    pending.push({ generation: controller.generation, initial: true, services: [], routes: [] });
    flush();
  };
}

export function configHandlers(controller: Controller): ConfigHandlers {
  return {
    ApplyState: unary((request, metadata) => applyState(controller, request, metadata)),
    WatchConfig: watchConfig(controller),
  };
}
