// Loads proto/portcullis/v1/portcullis.proto at run time with the SAME options the
// type generator used (longs String, enums String, defaults, oneofs), so the
// generated types in ./generated describe exactly what grpc-js hands us.
// Consequence for clients: uint64/int64 fields arrive as decimal strings.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType as CaptureProtoGrpcType } from './generated/capture.js';
import type { ProtoGrpcType as DefenseProtoGrpcType } from './generated/defense.js';
import type { ProtoGrpcType as PortcullisProtoGrpcType } from './generated/portcullis.js';
import type { ProtoGrpcType as TraceProtoGrpcType } from './generated/trace.js';
import type { ProtoGrpcType as TakeoverProtoGrpcType } from './generated/takeover.js';

/** All files share package portcullis.v1, so one loaded object holds every service. */
type ProtoGrpcType = PortcullisProtoGrpcType & DefenseProtoGrpcType & TraceProtoGrpcType & TakeoverProtoGrpcType & CaptureProtoGrpcType;

export const LOADER_OPTIONS: protoLoader.Options = {
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** Repo root = first ancestor holding package.json (works from src/ and dist/src/). */
export function repoRoot(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(directory, 'package.json'))) {
    const parent = dirname(directory);
    if (parent === directory) throw new Error('cannot find the Portcullis package root (package.json) above ' + fileURLToPath(import.meta.url));
    directory = parent;
  }
  return directory;
}

export interface LoadedProto {
  definition: protoLoader.PackageDefinition;
  grpcObject: ProtoGrpcType;
}

let cached: LoadedProto | undefined;

export function loadPortcullisProto(): LoadedProto {
  if (!cached) {
    const definition = protoLoader.loadSync(['portcullis/v1/portcullis.proto', 'portcullis/v1/defense.proto', 'portcullis/v1/trace.proto', 'portcullis/v1/takeover.proto', 'portcullis/v1/capture.proto'], {
      ...LOADER_OPTIONS,
      includeDirs: [join(repoRoot(), 'proto')],
    });
    // The cast is the documented way to pair loadPackageDefinition with generated types.
    cached = { definition, grpcObject: grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType };
  }
  return cached;
}
