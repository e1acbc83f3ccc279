/**
 * The one error class of the tracking library: an MLflow error code plus a message in the "Cannot <action>: <seen>"
 * grammar. The tracking server maps `code` to an HTTP status with `httpStatusOf`; the CLI shows `hint`.
 */

/** MLflow `ErrorCode` names used by the tracking library and the REST API. */
export type ErrorCode =
  | "INVALID_PARAMETER_VALUE"
  | "RESOURCE_ALREADY_EXISTS"
  | "RESOURCE_DOES_NOT_EXIST"
  | "INTERNAL_ERROR"
  | "INVALID_STATE"
  | "BAD_REQUEST"
  | "ENDPOINT_NOT_FOUND"
  | "PERMISSION_DENIED"
  | "UNAUTHENTICATED"
  | "REQUEST_LIMIT_EXCEEDED"
  | "TEMPORARILY_UNAVAILABLE"
  | "NOT_IMPLEMENTED"
  | string;

/** A tracking failure with its MLflow error code; callers (the server, the CLI) catch this class. */
export class TrackingError extends Error {
  readonly code: ErrorCode;
  /** One line telling the user what to do. */
  hint?: string;
  /** 1-based column in a filter / order_by string where the problem starts. */
  column?: number;
  constructor(
    code: ErrorCode,
    message: string,
    options?: { hint?: string; column?: number; cause?: unknown },
  ) {
    super(message, { cause: options?.cause });
    this.name = "TrackingError";
    this.code = code;
    this.hint = options?.hint;
    this.column = options?.column;
  }
}

const STATUS: Record<string, number> = {
  INVALID_PARAMETER_VALUE: 400,
  BAD_REQUEST: 400,
  RESOURCE_ALREADY_EXISTS: 400,
  RESOURCE_DOES_NOT_EXIST: 404,
  ENDPOINT_NOT_FOUND: 404,
  NOT_FOUND: 404,
  PERMISSION_DENIED: 403,
  UNAUTHENTICATED: 401,
  CUSTOMER_UNAUTHORIZED: 401,
  ABORTED: 409,
  ALREADY_EXISTS: 409,
  RESOURCE_CONFLICT: 409,
  REQUEST_LIMIT_EXCEEDED: 429,
  RESOURCE_EXHAUSTED: 429,
  CANCELLED: 499,
  INTERNAL_ERROR: 500,
  INVALID_STATE: 500,
  DATA_LOSS: 500,
  NOT_IMPLEMENTED: 501,
  TEMPORARILY_UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
};

/** HTTP status MLflow uses for an error code (500 for unknown codes). */
export function httpStatusOf(code: ErrorCode): number {
  return STATUS[code] ?? 500;
}

/** Error code a client assumes when a response carries no MLflow JSON body. */
export function errorCodeOfStatus(status: number): ErrorCode {
  const byStatus: Record<number, ErrorCode> = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "ENDPOINT_NOT_FOUND",
    409: "RESOURCE_CONFLICT",
    429: "REQUEST_LIMIT_EXCEEDED",
    501: "NOT_IMPLEMENTED",
    503: "TEMPORARILY_UNAVAILABLE",
  };
  return byStatus[status] ?? "INTERNAL_ERROR";
}

export const invalid = (message: string, hint?: string): TrackingError =>
  new TrackingError("INVALID_PARAMETER_VALUE", message, { hint });
export const notFound = (message: string, hint?: string): TrackingError =>
  new TrackingError("RESOURCE_DOES_NOT_EXIST", message, { hint });
export const alreadyExists = (message: string, hint?: string): TrackingError =>
  new TrackingError("RESOURCE_ALREADY_EXISTS", message, { hint });
