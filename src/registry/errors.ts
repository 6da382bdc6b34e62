/**
 * Registry failures as typed errors. The status follows the distribution error
 * code's own HTTP status, as dockerd's API does, so `denied` stays 403 and
 * `manifest unknown` 404 when the API layer reports them.
 */
import { BerthError, SystemError } from '../errors/index.js';

const CODE_STATUS: Record<string, number> = {
  UNAUTHORIZED: 401, DENIED: 403, UNSUPPORTED: 405, TOOMANYREQUESTS: 429,
  NAME_UNKNOWN: 404, MANIFEST_UNKNOWN: 404, BLOB_UNKNOWN: 404, BLOB_UPLOAD_UNKNOWN: 404,
  NAME_INVALID: 400, TAG_INVALID: 400, DIGEST_INVALID: 400, SIZE_INVALID: 400, RANGE_INVALID: 416,
  MANIFEST_INVALID: 400, MANIFEST_UNVERIFIED: 400, MANIFEST_BLOB_UNKNOWN: 400, BLOB_UPLOAD_INVALID: 400,
};

/** An error the registry answered with; `code` is the distribution code (MANIFEST_UNKNOWN, …) or HTTP_<status>. */
export class RegistryError extends BerthError {
  readonly code: string;
  constructor(code: string, message: string, status = CODE_STATUS[code] ?? 500) {
    super(status, message);
    this.code = code;
  }
}

/** Bytes that do not hash to the digest they were asked for. */
export class DigestMismatchError extends SystemError {
  constructor(readonly expected: string, readonly actual: string, what = 'blob') {
    super(`failed to verify ${what} ${expected}: digest mismatch (got ${actual})`);
  }
}

/** The registry could not be reached, or stopped answering; `code` is the system's (ECONNREFUSED, ETIMEDOUT, …). */
export class RegistryConnectionError extends SystemError {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

interface ErrorBody { errors?: { code?: string; message?: string }[]; details?: string; error?: string }

/** `MANIFEST_UNKNOWN` → `manifest unknown`, as Go's errcode prints a code. */
export const codeText = (code: string) => code.toLowerCase().replace(/_/g, ' ');

/** The registry's own error, read from a failed response's JSON body when it has one. */
export async function errorFromResponse(res: Response): Promise<RegistryError> {
  let body: ErrorBody | undefined;
  try {
    body = (await res.json()) as ErrorBody;
  } catch {
    body = undefined;
  }
  const first = body?.errors?.find((e) => e.code);
  if (first?.code) {
    const text = body!.errors!.filter((e) => e.code).map((e) => `${codeText(e.code!)}: ${e.message ?? ''}`).join('; ');
    return new RegistryError(first.code, text);
  }
  // Token servers (Docker Hub's among them) answer {"details": "…"}.
  const detail = body?.details ?? body?.error;
  if (res.status === 401) return new RegistryError('UNAUTHORIZED', `unauthorized: ${detail ?? 'authentication required'}`);
  if (res.status === 403) return new RegistryError('DENIED', `denied: ${detail ?? 'requested access to the resource is denied'}`);
  if (res.status === 429) return new RegistryError('TOOMANYREQUESTS', `toomanyrequests: ${detail ?? 'too many requests'}`);
  const status = res.status >= 400 && res.status < 500 ? res.status : 500;
  return new RegistryError(`HTTP_${res.status}`, `received unexpected HTTP status: ${res.status} ${res.statusText}`.trim(), status);
}

export const incorrectCredentials = () => new RegistryError('UNAUTHORIZED', 'unauthorized: incorrect username or password');
