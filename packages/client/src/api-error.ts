/** An error answered by the hub (its `{ error: { code, message } }` reply) or met on the way. */
export class ApiError extends Error {
  /** a code of the error catalog (`KENSA_ERR_…`), `KENSA_ERR_NETWORK` when the hub was not reached, or `HTTP_<status>` for a reply without one */
  readonly code: string;
  /** HTTP status; 0 when the request never got an answer */
  readonly status: number;
  readonly details: unknown;

  constructor(code: string, message: string, status: number, details?: unknown) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.status = status;
    this.details = details;
  }
}
