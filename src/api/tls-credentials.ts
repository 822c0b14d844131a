// TLS server credentials for the TCP listener. Without api.tls.client_ca: plain server TLS.
// With it: client certificates are requested and verified against that CA; `required` makes the
// handshake fail without one, `optional` lets certificate-less clients in (they then need a
// bearer token; an unverified certificate is no identity, src/api/auth.ts). grpc-js's createSsl
// can only require and passes no other server option, so every mode uses this small subclass of
// its public ServerCredentials, whose two option sets go straight to Node's
// http2.createSecureServer: requestCert / rejectUnauthorized, and the handshake limits
// (api.limits.handshake_timeout_ms: Node destroys a connection whose TLS handshake has not
// finished that long after it was accepted, trickled bytes or not; the same bound applies to a
// peer that finishes TLS without offering HTTP/2 by ALPN). Files are read and their modes
// checked (src/api/secret-files.ts) before the listener binds, so no connection ever meets a
// server without its certificate.
import { readFile } from 'node:fs/promises';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { ApiTls } from '../config/types.js';
import { readSecretFile, readTrustFile } from './secret-files.js';

/** http2.SecureServerOptions beyond TlsOptions that we set (not in @types/node's TlsOptions). */
interface ListenerTlsOptions extends TlsOptions {
  unknownProtocolTimeout: number;
}

class ListenerCredentials extends grpc.ServerCredentials {
  constructor(server: ListenerTlsOptions, context: SecureContextOptions) {
    super(server, context);
  }

  _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

export async function tlsServerCredentials(tls: ApiTls, handshakeTimeoutMs: number): Promise<grpc.ServerCredentials> {
  // The certificate is public: only the key and the CA that decides who is trusted are checked.
  const cert = await readFile(tls.cert).catch((error: Error) => { throw new Error(`api.tls.cert: cannot read ${tls.cert} (${error.message})`); });
  const key = await readSecretFile(tls.key, 'api.tls.key');
  const limits = { handshakeTimeout: handshakeTimeoutMs, unknownProtocolTimeout: handshakeTimeoutMs };
  if (tls.clientCa === undefined) return new ListenerCredentials({ requestCert: false, ...limits }, { cert: [cert], key: [key] });
  const ca = await readTrustFile(tls.clientCa, 'api.tls.client_ca');
  return new ListenerCredentials(
    { requestCert: true, rejectUnauthorized: tls.clientCerts === 'required', ...limits },
    { ca, cert: [cert], key: [key] },
  );
}
