// Files the TCP listener trusts, read once at start-up and refused when someone other than the
// daemon could read or change them: a token file or a TLS private key readable by group or others
// is a secret shared with every local user, and one they can write lets them pick the secret. The
// client CA is a certificate (public), so reading it is fine, but whoever can write it can add a
// CA of their own and mint operator certificates — it must not be writable by group or others.
// A file owned by another user (not root) is refused too: its owner can chmod it at will.
// Each file is opened once and checked with fstat on that descriptor, then read from it, so a
// rename or symlink swap between the check and the read cannot slip another file in.
import { open } from 'node:fs/promises';

/** Group or others may read or write. */
const SECRET_FORBIDDEN = 0o066;
/** Group or others may write. */
const TRUST_FORBIDDEN = 0o022;

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

async function readChecked(path: string, field: string, forbidden: number, why: string, fix: string): Promise<Buffer> {
  const handle = await open(path, 'r').catch((error: Error) => {
    throw new Error(`${field}: cannot read ${path} (${error.message})`);
  });
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new Error(`${field}: ${path} is not a regular file`);
    if ((info.mode & forbidden) !== 0) {
      throw new Error(`${field}: ${path} has mode ${octal(info.mode)}: ${why}; ${fix}`);
    }
    const self = process.geteuid?.();
    if (self !== undefined && info.uid !== self && info.uid !== 0) {
      throw new Error(`${field}: ${path} is owned by uid ${info.uid}, expected the daemon's user (uid ${self}) or root: its owner could change it at will`);
    }
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** A token file or a private key: only its owner may read or write it (e.g. 0600 or 0400). */
export function readSecretFile(path: string, field: string): Promise<Buffer> {
  return readChecked(path, field, SECRET_FORBIDDEN, 'group or others may read or write this secret', `chmod 600 ${path}`);
}

/** A trust anchor (the client CA): anyone may read it, only its owner may change it. */
export function readTrustFile(path: string, field: string): Promise<Buffer> {
  return readChecked(path, field, TRUST_FORBIDDEN,
    'group or others may write it, and whoever writes it can add a CA and mint operator certificates', `chmod go-w ${path}`);
}
