// `portcullis route list|add|delete`: static routes over the Routes gRPC service. Arguments are
// read with the model's own readers first, so a typo is named (exit 2) before anything is sent.
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { table } from '../api/format.js';
import type { Route__Output } from '../api/generated/portcullis/v1/Route.js';
import { ModelError, readNetwork, readRoute } from '../model/index.js';
import { connect } from './client.js';
import { commandFailureExit, ENDPOINT_OPTIONS, resolveEndpoint, type Endpoint } from './endpoint.js';

export const ROUTE_USAGE = `  portcullis route list [--json]
  portcullis route add PREFIX [--via NEXT_HOP] --port PORT
                                 e.g. 10.99.0.0/16 --via 198.19.0.9 --port inside; no --via = on-link
  portcullis route delete PREFIX
                                 applied at once and kept in the state file (survives a restart)`;

class RouteUsageError extends Error {}

function parse<T extends Record<string, { type: 'string' | 'boolean' }>>(args: string[], options: T, positionals: number) {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { ...ENDPOINT_OPTIONS, ...options }, strict: true, allowPositionals: true });
  } catch (error) {
    throw new RouteUsageError((error as Error).message);
  }
  if (parsed.positionals.length !== positionals) {
    throw new RouteUsageError(`expected ${positionals} argument(s), got ${parsed.positionals.length}${parsed.positionals.length ? ` (${parsed.positionals.join(' ')})` : ''}`);
  }
  return parsed;
}

export function formatRoutes(routes: Route__Output[]): string {
  if (routes.length === 0) return 'no routes';
  return table(['PREFIX', 'VIA', 'PORT'], routes.map((r) => [r.prefix, r.via || 'on-link', r.port]), 3);
}

async function run(args: string[], write: (text: string) => void): Promise<number> {
  const [sub, ...rest] = args;
  let endpoint: Endpoint | undefined;
  let client: ReturnType<typeof connect> | undefined;
  const api = (flags: Parameters<typeof resolveEndpoint>[0]) => {
    endpoint ??= resolveEndpoint(flags);
    client ??= connect(endpoint);
    return client.api;
  };
  try {
    switch (sub) {
      case 'list': {
        const { values } = parse(rest, { json: { type: 'boolean' } }, 0);
        const { routes } = await api(values).listRoutes({});
        write(values.json ? `${JSON.stringify(routes, null, 2)}\n` : `${formatRoutes(routes)}\n`);
        return 0;
      }
      case 'add': {
        const { values, positionals } = parse(rest, { via: { type: 'string' }, port: { type: 'string' } }, 1);
        const route = readRoute({ prefix: positionals[0], via: values.via, port: values.port }, 'route');
        const added = await api(values).addRoute({ route });
        write(`added:\n${formatRoutes([added])}\n`);
        return 0;
      }
      case 'delete': {
        const { values, positionals } = parse(rest, {}, 1);
        const prefix = readNetwork(positionals[0], 'PREFIX');
        await api(values).deleteRoute({ prefix });
        write(`deleted ${prefix}\n`);
        return 0;
      }
      default:
        throw new RouteUsageError(sub ? `unknown route command "${sub}"` : 'expected list, add or delete');
    }
  } catch (error) {
    // The operator's input (bad value, a prefix already routed or not routed): exit 2.
    return commandFailureExit('route', error, { usageErrors: [RouteUsageError, ModelError], usage: ROUTE_USAGE,
      target: endpoint?.target ?? 'the daemon', inputCodes: [grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND, grpc.status.ALREADY_EXISTS] });
  } finally {
    client?.close();
  }
}

export function commandRoute(args: string[]): Promise<number> {
  return run(args, (text) => process.stdout.write(text));
}
