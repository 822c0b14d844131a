// TLS server credentials for the TCP listener. Without api.tls.client_ca: plain server TLS.
// With it: client certificates are requested and verified against that CA; `required` makes the
// handshake fail without one, `optional` lets certificate-less clients in (they then need a
// bearer token; an unverified certificate is no identity, src/api/auth.ts). grpc-js's createSsl
// can only require, so both modes use this small subclass of its public ServerCredentials, whose
// two option sets go straight to Node's tls server (requestCert / rejectUnauthorized) — loaded
// before the listener binds, so no connection ever meets a server without its certificate.
import { readFile } from 'node:fs/promises';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { ApiTls } from '../config/types.js';

async function readPem(path: string, field: string): Promise<Buffer> {
  return readFile(path).catch((error: Error) => { throw new Error(`${field}: cannot read ${path} (${error.message})`); });
}

class ClientCertificateCredentials extends grpc.ServerCredentials {
  constructor(server: TlsOptions, context: SecureContextOptions) {
    super(server, context);
  }

  _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

export async function tlsServerCredentials(tls: ApiTls): Promise<grpc.ServerCredentials> {
  const cert = await readPem(tls.cert, 'api.tls.cert');
  const key = await readPem(tls.key, 'api.tls.key');
  if (tls.clientCa === undefined) return grpc.ServerCredentials.createSsl(null, [{ cert_chain: cert, private_key: key }], false);
  const ca = await readPem(tls.clientCa, 'api.tls.client_ca');
  return new ClientCertificateCredentials(
    { requestCert: true, rejectUnauthorized: tls.clientCerts === 'required' },
    { ca, cert: [cert], key: [key] },
  );
}
