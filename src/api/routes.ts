// portcullis.v1.Routes: static routes changed at run time. Each write = the model's readRoute
// (the config's own field rules) → addRoute/deleteRoute (whole-state check) → Controller.mutate
// (snapshot apply + state file, atomic), then a log line naming the caller.
import type * as grpc from '@grpc/grpc-js';
import type { Controller } from '../daemon/controller.js';
import { log } from '../log.js';
import { addRoute, deleteRoute, readNetwork, readRoute, type Route } from '../model/index.js';
import { callerOf } from './auth.js';
import type { Route as ProtoRoute } from './generated/portcullis/v1/Route.js';
import type { RoutesHandlers } from './generated/portcullis/v1/Routes.js';
import { unary } from './status.js';

function routeToProto(route: Route): ProtoRoute {
  return { prefix: route.prefix, via: route.via ?? '', port: route.port };
}

/** A missing message reads as an object with no fields, so the validator names "route.prefix". */
function routeFromProto(message: ProtoRoute | null | undefined, path: string): Route {
  return readRoute({ prefix: message?.prefix, via: message?.via, port: message?.port }, path);
}

function callerText(metadata: grpc.Metadata): string {
  const caller = callerOf(metadata);
  return caller.transport === 'tcp' ? caller.identity : 'unix socket';
}

function routeText(route: Route): string {
  return `${route.prefix}${route.via ? ` via ${route.via}` : ''} port ${route.port}`;
}

export function routesHandlers(controller: Controller): RoutesHandlers {
  return {
    ListRoutes: unary(() => ({ routes: controller.state.routes.map(routeToProto), generation: controller.generation })),

    AddRoute: unary(async (request, metadata) => {
      const route = routeFromProto(request.route, 'route');
      const added = await controller.mutate((state) => addRoute(state, route));
      log.info(`route added by ${callerText(metadata)}: ${routeText(added)}`);
      return routeToProto(added);
    }),

    DeleteRoute: unary(async (request, metadata) => {
      const prefix = readNetwork(request.prefix, 'prefix');
      const removed = await controller.mutate((state) => deleteRoute(state, prefix));
      log.info(`route deleted by ${callerText(metadata)}: ${routeText(removed)}`);
      return {};
    }),
  };
}
