// errors.ts - one error type for everything a client can get wrong or the
// daemon can refuse, with the HTTP status and the machine-readable code the
// WebSocket error reply carries too.
import type { z } from 'zod';
import { describeIssues, issueField } from '../core/protocol';

export type ErrorCode = 'bad_json' | 'bad_request' | 'unauthorized' | 'forbidden' | 'not_found' | 'conflict' | 'too_large' | 'method_not_allowed' | 'unavailable' | 'failed';

const STATUS: Record<ErrorCode, number> = {
  bad_json: 400,
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  too_large: 413,
  unavailable: 503,
  failed: 500,
};

export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get status(): number {
    return STATUS[this.code];
  }

  static invalid(error: z.ZodError, whole?: string): ApiError {
    return new ApiError('bad_request', describeIssues(error, whole), issueField(error));
  }

  /** Anything thrown while serving a request, as an ApiError (host errors keep their message). */
  static from(err: unknown): ApiError {
    if (err instanceof ApiError) return err;
    return new ApiError('failed', err instanceof Error ? err.message : String(err));
  }

  toJSON(): { code: ErrorCode; message: string; field?: string } {
    return { code: this.code, message: this.message, ...(this.field !== undefined ? { field: this.field } : {}) };
  }
}
