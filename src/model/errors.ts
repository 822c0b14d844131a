// The one error type every door (YAML, gRPC, pcadm) reports, and the one helper
// that formats "field: expected X, got Y" messages so they all read the same.

export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'FAILED_PRECONDITION'
  | 'RESOURCE_EXHAUSTED'
  /** A precondition the caller named no longer holds (ApplyState's expected_generation is stale). */
  | 'ABORTED'
  /** Not now, try again: the daemon is handing over to a new one (src/daemon/takeover.ts). */
  | 'UNAVAILABLE'
  | 'INTERNAL';

export class ModelError extends Error {
  override readonly name = 'ModelError';
  /** Field path ("services[0].servers[1].weight"); '' when the error is not about one field. */
  readonly path: string;
  readonly code: ErrorCode;

  constructor(code: ErrorCode, path: string, detail: string) {
    super(path ? `${path}: ${detail}` : detail);
    this.code = code;
    this.path = path;
  }
}

/** Short, printable rendering of a bad value for error messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') {
    const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
    return JSON.stringify(shown);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  return typeof value;
}

/** INVALID_ARGUMENT naming the field, what it should be and what it was. */
export function invalid(path: string, expected: string, actual: unknown): ModelError {
  return new ModelError('INVALID_ARGUMENT', path, `expected ${expected}, got ${describeValue(actual)}`);
}

export function joinPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  return base ? `${base}.${key}` : key;
}
