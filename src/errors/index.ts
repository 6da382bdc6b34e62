/**
 * One error hierarchy for the whole engine. Each error carries the HTTP status
 * and the Docker-compatible message the API returns; `api/` turns any of them
 * into `{"message": …}` in one place.
 */
export class BerthError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
    this.name = new.target.name;
  }
}

export class NotFoundError extends BerthError {
  constructor(message: string) { super(404, message); }
}

export class ConflictError extends BerthError {
  constructor(message: string) { super(409, message); }
}

export class InvalidParameterError extends BerthError {
  constructor(message: string) { super(400, message); }
}

export class NotModifiedError extends BerthError {
  constructor(message = '') { super(304, message); }
}

export class SystemError extends BerthError {
  constructor(message: string) { super(500, message); }
}

export const noSuchContainer = (ref: string) => new NotFoundError(`No such container: ${ref}`);
export const noSuchImage = (ref: string) => new NotFoundError(`No such image: ${ref}`);

export function errorStatus(err: unknown): number {
  return err instanceof BerthError ? err.status : 500;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
