// Test certificates made with openssl at test time (never checked in): a CA, a server
// certificate for localhost/127.0.0.1 and client certificates signed by that CA, plus a
// "rogue" client signed by a CA the daemon does not trust. EC P-256 keys: fast to make.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Pair { cert: string; key: string }

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function newKeyArgs(key: string): string[] {
  return ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key];
}

export function makeCa(dir: string, name: string): Pair {
  const pair = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  openssl(['req', '-x509', ...newKeyArgs(pair.key), '-days', '1', '-subj', `/CN=${name}`, '-out', pair.cert]);
  return pair;
}

/** A leaf certificate signed by `ca`; `altNames` like "DNS:localhost,IP:127.0.0.1". */
export function makeLeaf(dir: string, ca: Pair, name: string, commonName: string, altNames?: string): Pair {
  const pair = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  const csr = join(dir, `${name}.csr`);
  const extensions = join(dir, `${name}.ext`);
  writeFileSync(extensions, altNames ? `subjectAltName=${altNames}\n` : 'basicConstraints=CA:FALSE\n');
  openssl(['req', ...newKeyArgs(pair.key), '-subj', `/CN=${commonName}`, '-out', csr]);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', '1', '-extfile', extensions, '-out', pair.cert]);
  return pair;
}
