// `portcullis apply -f services.yaml`: the file's whole desired set of services (and routes, when
// it has a `routes:` key) through Config.ApplyState, and the diff printed. The file is read with
// the config's own readers first, so a mistake is named by its field (exit 2) before anything is sent.
//
// Exit codes: 0 applied, nothing to change, or dry run; 1 the daemon could not be reached or the
// change failed there; 2 usage, the file, or a refusal of the desired state (INVALID_ARGUMENT,
// PERMISSION_DENIED excluded: 1); 3 the configuration was not at --expected-generation (ABORTED:
// nothing changed; read it again and retry).
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { parseDocument } from 'yaml';
import { serviceToProto } from '../api/convert.js';
import type { ApplyStateResponse__Output } from '../api/generated/portcullis/v1/ApplyStateResponse.js';
import type { FieldChange__Output } from '../api/generated/portcullis/v1/FieldChange.js';
import type { ServiceKey__Output } from '../api/generated/portcullis/v1/ServiceKey.js';
import type { VirtualService } from '../api/generated/portcullis/v1/VirtualService.js';
import {
  joinPath, LIMITS, ModelError, readList, readObject, readRoute, readServiceSpec, rejectUnknownKeys, type Route, type ServiceSpec,
} from '../model/index.js';
import { connect } from './client.js';
import { commandFailureExit, describeCallError, ENDPOINT_OPTIONS, resolveEndpoint, type Endpoint } from './endpoint.js';

export const APPLY_USAGE = `  portcullis apply -f FILE [--dry-run] [--prune] [--expected-generation N] [--json]
                                 make the daemon's services (and routes, when FILE has routes:) what
                                 FILE says, as one change; prints the diff. FILE: services: [...] as in
                                 the config (+ optional routes: [...]). --prune deletes what FILE does
                                 not list. Exit 0 done, 1 failed, 2 bad input, 3 stale generation`;

/** ABORTED: the configuration moved on since the generation the caller named. */
export const EXIT_STALE_GENERATION = 3;

class ApplyUsageError extends Error {}

export interface DesiredFile {
  services: ServiceSpec[];
  /** Absent: the file has no routes key, routes are left alone. */
  routes?: Route[];
}

/** Reads the desired-state file's text; throws ModelError naming the field. */
export function parseDesiredFile(text: string): DesiredFile {
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (document.errors.length > 0) throw new ModelError('INVALID_ARGUMENT', '', `YAML: ${document.errors[0]!.message.split('\n')[0]}`);
  const root = readObject(document.toJS() ?? {}, '(top level)');
  rejectUnknownKeys(root, ['services', 'routes'], '');
  const services = readList(root.services ?? [], 'services', LIMITS.maxServiceId).map((s, i) => readServiceSpec(s, joinPath('services', i)));
  if (root.routes === undefined) return { services };
  const routes = readList(root.routes ?? [], 'routes', LIMITS.maxRoutes).map((r, i) => readRoute(r, joinPath('routes', i)));
  return { services, routes };
}

/** A spec as the proto message ApplyState takes (ids and health are output-only there). */
function specToProto(spec: ServiceSpec): VirtualService {
  return serviceToProto({ ...spec, id: 0, servers: spec.servers.map((s) => ({ ...s, id: 0 })) });
}

function keyText(key: ServiceKey__Output | null): string {
  if (!key) return '?';
  const vip = key.vip.includes(':') ? `[${key.vip}]` : key.vip;
  return `${key.protocol.toLowerCase()}/${vip}:${key.port}`;
}

function fieldLines(action: string, fields: FieldChange__Output[]): string[] {
  return fields.map((f) => {
    if (action === 'created') return `    ${f.field}: ${f.after}`;
    if (action === 'deleted') return `    ${f.field}: ${f.before}`;
    return `    ${f.field}: ${f.before || '(unset)'} -> ${f.after || '(unset)'}`;
  });
}

const MARK: Record<string, string> = { created: '+', updated: '~', deleted: '-' };

/** The diff as people read it: "+ created", "~ updated" (field: before -> after), "- deleted". */
export function formatApplyResult(response: ApplyStateResponse__Output, dryRun: boolean): string {
  const lines: string[] = [];
  for (const change of response.services) {
    lines.push(`${MARK[change.action] ?? '?'} service ${keyText(change.key)}${change.name ? ` (${change.name})` : ''} ${change.action}`);
    lines.push(...fieldLines(change.action, change.fields));
  }
  for (const change of response.routes) {
    lines.push(`${MARK[change.action] ?? '?'} route ${change.prefix} ${change.action}`);
    lines.push(...fieldLines(change.action, change.fields));
  }
  const count = response.services.length + response.routes.length;
  if (count === 0) lines.push(`no changes (generation ${response.generation})`);
  else if (dryRun) lines.push(`dry run: ${count} change(s) not applied (generation ${response.generation})`);
  // An apply is one change: one generation more.
  else lines.push(`applied ${count} change(s): generation ${Number(response.generation) - 1} -> ${response.generation}`);
  if (response.unlisted.length > 0) {
    lines.push(`${response.unlisted.length} running service(s) not in the file left alone (--prune deletes them): ${response.unlisted.map(keyText).join(', ')}`);
  }
  return lines.join('\n');
}

async function run(args: string[], write: (text: string) => void): Promise<number> {
  let endpoint: Endpoint | undefined;
  let client: ReturnType<typeof connect> | undefined;
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args, strict: true, allowPositionals: false,
        options: {
          ...ENDPOINT_OPTIONS, file: { type: 'string', short: 'f' }, 'dry-run': { type: 'boolean' }, prune: { type: 'boolean' },
          'expected-generation': { type: 'string' }, json: { type: 'boolean' },
        },
      });
    } catch (error) {
      throw new ApplyUsageError((error as Error).message);
    }
    const { values } = parsed;
    if (!values.file) throw new ApplyUsageError('-f FILE is required');
    const expected = values['expected-generation'];
    if (expected !== undefined && !/^[1-9]\d{0,14}$/.test(expected)) {
      throw new ApplyUsageError(`--expected-generation: expected a generation (1, 2, …; "portcullis status" shows the current one), got "${expected}"`);
    }
    let text: string;
    try {
      text = await readFile(values.file, 'utf8');
    } catch (error) {
      throw new ApplyUsageError(`-f ${values.file}: cannot read the file (${(error as Error).message})`);
    }
    let desired: DesiredFile;
    try {
      desired = parseDesiredFile(text);
    } catch (error) {
      if (error instanceof ModelError) throw new ModelError(error.code, '', `${values.file}: ${error.message}`);
      throw error;
    }
    endpoint = resolveEndpoint(values);
    client = connect(endpoint);
    const response = await client.api.applyState({
      services: desired.services.map(specToProto),
      routes: desired.routes ?? [],
      applyRoutes: desired.routes !== undefined,
      prune: values.prune ?? false,
      dryRun: values['dry-run'] ?? false,
      expectedGeneration: expected ?? '0',
    }, 30_000);
    write(values.json ? `${JSON.stringify(response, null, 2)}\n` : `${formatApplyResult(response, values['dry-run'] ?? false)}\n`);
    return 0;
  } catch (error) {
    const serviceError = error as Partial<grpc.ServiceError>;
    if (serviceError.code === grpc.status.ABORTED) {
      process.stderr.write(`portcullis apply: ${describeCallError(error, endpoint?.target ?? 'the daemon')}\n`);
      return EXIT_STALE_GENERATION;
    }
    return commandFailureExit('apply', error, { usageErrors: [ApplyUsageError, ModelError], usage: APPLY_USAGE,
      target: endpoint?.target ?? 'the daemon', inputCodes: [grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND, grpc.status.ALREADY_EXISTS] });
  } finally {
    client?.close();
  }
}

export function commandApply(args: string[]): Promise<number> {
  return run(args, (text) => process.stdout.write(text));
}
