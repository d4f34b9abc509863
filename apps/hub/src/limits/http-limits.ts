import { countRefusal } from "./limit-refusals.js";

/** Fastify's codes for a body over its route's limit (or a multipart file over its own) */
const BODY_TOO_LARGE = new Set(["FST_ERR_CTP_BODY_TOO_LARGE", "FST_REQ_FILE_TOO_LARGE"]);

/** For the app's onError hook: counts a request body refused for its size (KENSA_ERR_UPLOAD_TOO_LARGE). */
export function countBodyRefusal(err: { code?: string; statusCode?: number }): void {
  if ((err.code && BODY_TOO_LARGE.has(err.code)) || err.statusCode === 413) countRefusal("http_body");
}
