import { ERROR_CODES, type ErrorCode } from "../protocol.js";

const DEFAULT_STATUS: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  INVALID_JSON: 400,
  VALIDATION_FAILED: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  THREAD_NOT_FOUND: 404,
  RUN_NOT_FOUND: 404,
  AGENT_NOT_FOUND: 404,
  SCHEDULE_NOT_FOUND: 404,
  HOOK_NOT_FOUND: 404,
  INTERRUPT_NOT_FOUND: 404,
  THREAD_BUSY: 409,
  INTERRUPTS_PENDING: 409,
  INTERRUPT_EXPIRED: 409,
  CONFLICT: 409,
  LEASE_LOST: 409,
  EPOCH_MISMATCH: 409,
  PAYLOAD_TOO_LARGE: 413,
  URI_TOO_LONG: 414,
  HEADERS_TOO_LARGE: 431,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  DATA_LOST: 503,
  DRIVER_MISSING: 500,
};

export interface ThreadlineErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/**
 * The one error type of Threadline. It carries a stable string `code` and an HTTP `status`,
 * renders itself as the JSON error body, and the client rebuilds it from a response.
 */
export class ThreadlineError extends Error {
  readonly code: ErrorCode | (string & {});
  readonly status: number;
  readonly details: unknown;

  constructor(
    code: ErrorCode | (string & {}),
    message: string,
    opts: { status?: number; cause?: unknown; details?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "ThreadlineError";
    this.code = code;
    this.status = opts.status ?? DEFAULT_STATUS[code as ErrorCode] ?? 500;
    this.details = opts.details;
  }

  toJSON(): ThreadlineErrorBody {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details === undefined ? {} : { details: this.details }),
      },
    };
  }

  toResponse(headers?: Record<string, string>): Response {
    return new Response(JSON.stringify(this.toJSON()), {
      status: this.status,
      headers: { "content-type": "application/json", ...headers },
    });
  }

  /** Rebuilds the error a server rendered; falls back to a generic one for non-JSON bodies. */
  static async fromResponse(response: Response): Promise<ThreadlineError> {
    const text = await response.text().catch(() => "");
    try {
      const body = JSON.parse(text) as Partial<ThreadlineErrorBody>;
      if (body.error && typeof body.error.code === "string") {
        return new ThreadlineError(body.error.code, String(body.error.message ?? ""), {
          status: response.status,
          details: body.error.details,
        });
      }
    } catch {
      // not JSON: fall through
    }
    return new ThreadlineError(
      response.status >= 500 ? ERROR_CODES.unavailable : ERROR_CODES.badRequest,
      `HTTP ${response.status}${text ? `: ${text.slice(0, 200)}` : ""}`,
      { status: response.status },
    );
  }

  static is(value: unknown, code?: string): value is ThreadlineError {
    return value instanceof ThreadlineError && (code === undefined || value.code === code);
  }
}

/** What an unknown thrown value says: an Error's message, else the value as a string. */
export const errorText = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);
