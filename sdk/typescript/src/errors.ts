/** Cleave's one error envelope, as an exception: `code` is stable and machine-readable. */
export interface ErrorEnvelope {
  error: { code: string; message: string; details?: unknown; request_id?: string | null };
}

export class CleaveError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  /** The request id a user's bug report can quote (`error.request_id`, else `X-Request-ID`). */
  readonly requestId: string | null;

  constructor(status: number, code: string, message: string, details: unknown, requestId: string | null) {
    super(`${code}: ${message}`);
    this.name = "CleaveError";
    this.status = status;
    this.code = code;
    this.details = details;
    this.requestId = requestId;
  }

  /** The error a response carries, or a generic one when its body is not the envelope. */
  static async from(response: Response): Promise<CleaveError> {
    let body: unknown = null;
    try {
      body = await response.clone().json();
    } catch {
      // not JSON (or already read): fall through to a generic error
    }
    return CleaveError.fromBody(response, body);
  }

  /** The error of a response whose body was already parsed (openapi-fetch's `error`). */
  static fromBody(response: Response, body: unknown): CleaveError {
    const headerId = response.headers.get("x-request-id");
    const envelope = body as Partial<ErrorEnvelope> | null;
    if (envelope?.error && typeof envelope.error.code === "string") {
      const { code, message, details, request_id } = envelope.error;
      return new CleaveError(response.status, code, message, details ?? null, request_id ?? headerId);
    }
    return new CleaveError(response.status, `http_${response.status}`, response.statusText, null, headerId);
  }
}

/** Thrown when the session is over (signed out elsewhere, refresh token reused): sign in again. */
export class SignedOutError extends CleaveError {
  constructor(reason: CleaveError) {
    super(reason.status, reason.code, reason.message, reason.details, reason.requestId);
    this.name = "SignedOutError";
  }
}
