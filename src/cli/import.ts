// `portcullis import keepalived FILE`: prints the services YAML on stdout and, on stderr, every
// item it did not map (FILE:LINE: not mapped: ITEM: why). Exit codes: 0 everything mapped,
// 3 the YAML is printed but some items were not mapped, 2 usage, an unreadable file or an error
// in the file (nothing on stdout; each error names its line).
import { open } from 'node:fs/promises';
import { importKeepalived } from '../import/keepalived/import.js';
import { MAX_CONFIG_BYTES } from '../import/keepalived/syntax.js';

export const IMPORT_USAGE = `  portcullis import keepalived FILE
                                 keepalived.conf (with DPVS's extensions) → services YAML on stdout;
                                 stderr lists each item not mapped with its line (exit 0 all mapped,
                                 3 some not mapped, 2 errors; docs/operations.md#coming-from-keepalived)`;

export const IMPORT_EXIT = { mapped: 0, usage: 2, invalid: 2, partly: 3 } as const;

export interface ImportOutput {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processOutput: ImportOutput = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

export async function commandImport(args: string[], out: ImportOutput = processOutput): Promise<number> {
  const [format, file, ...rest] = args;
  if (format !== 'keepalived' || file === undefined || rest.length > 0) {
    out.stderr(`portcullis import: expected "keepalived FILE"${args.length ? `, got "${args.join(' ')}"` : ''}\nusage:\n${IMPORT_USAGE}\n`);
    return IMPORT_EXIT.usage;
  }
  let text: string;
  try {
    text = await readBounded(file, MAX_CONFIG_BYTES);
  } catch (error) {
    out.stderr(`portcullis import: cannot read ${file}: ${(error as Error).message}\n`);
    return IMPORT_EXIT.invalid;
  }
  const result = importKeepalived(text, file);
  for (const error of result.errors) out.stderr(`${file}:${error.line}: error: ${error.item}: ${error.reason}\n`);
  if (result.yaml === undefined) {
    out.stderr(`portcullis import: ${result.errors.length} error(s) in ${file}; nothing imported\n`);
    return IMPORT_EXIT.invalid;
  }
  out.stdout(result.yaml);
  for (const item of result.skipped) out.stderr(`${file}:${item.line}: not mapped: ${item.item}: ${item.reason}\n`);
  for (const warning of result.warnings) out.stderr(`warning: ${warning}\n`);
  out.stderr(`portcullis import: ${result.services} service(s) imported, ${result.skipped.length} item(s) not mapped\n`);
  return result.skipped.length > 0 ? IMPORT_EXIT.partly : IMPORT_EXIT.mapped;
}

/** The file's text, refused past maxBytes: read, not stat'ed, so /dev/zero or a pipe cannot run away. */
async function readBounded(file: string, maxBytes: number): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    while (length <= maxBytes) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) return buffer.toString('utf8', 0, length);
      length += bytesRead;
    }
    throw new Error(`larger than ${maxBytes} bytes; a keepalived.conf is far smaller`);
  } finally {
    await handle.close();
  }
}
