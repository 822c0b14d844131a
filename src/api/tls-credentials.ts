// TLS server credentials for the TCP listener. Without api.tls.client_ca: plain server TLS.
// With it: client certificates are requested and verified against that CA; `required` makes the
// handshake fail without one, `optional` lets certificate-less clients in (they then need a
// bearer token). grpc-js's createSsl can only require, so the optional mode goes through its
// certificate-provider credentials, fed once from the files read here.
import { readFile } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import type { ApiTls } from '../config/types.js';

async function readPem(path: string, field: string): Promise<Buffer> {
  return readFile(path).catch((error: Error) => { throw new Error(`${field}: cannot read ${path} (${error.message})`); });
}

/**
 * A provider that hands out fixed certificates (rotation = restart, as for tokens). It answers a
 * new listener on the next tick, not at once: grpc-js registers the server's watcher only after it
 * added its listeners, and an update delivered before that never reaches the server (which then
 * drops every connection as "credentials not loaded").
 */
class FixedCertificates implements grpc.experimental.CertificateProvider {
  constructor(private readonly ca: Buffer, private readonly certificate: Buffer, private readonly privateKey: Buffer) {}
  addCaCertificateListener(listener: grpc.experimental.CaCertificateUpdateListener): void {
    setImmediate(() => listener({ caCertificate: this.ca }));
  }
  removeCaCertificateListener(): void {}
  addIdentityCertificateListener(listener: grpc.experimental.IdentityCertificateUpdateListener): void {
    setImmediate(() => listener({ certificate: this.certificate, privateKey: this.privateKey }));
  }
  removeIdentityCertificateListener(): void {}
}

export async function tlsServerCredentials(tls: ApiTls): Promise<grpc.ServerCredentials> {
  const cert = await readPem(tls.cert, 'api.tls.cert');
  const key = await readPem(tls.key, 'api.tls.key');
  if (tls.clientCa === undefined) return grpc.ServerCredentials.createSsl(null, [{ cert_chain: cert, private_key: key }], false);
  const ca = await readPem(tls.clientCa, 'api.tls.client_ca');
  // One provider for both roles: grpc-js 1.14 passes the two providers to its constructor in
  // swapped order, and a provider that serves both makes that harmless.
  const provider = new FixedCertificates(ca, cert, key);
  return grpc.experimental.createCertificateProviderServerCredentials(provider, provider, tls.clientCerts === 'required');
}
