export { ApiError } from "./api-error.js";
export { authHeaders, type ClientAuth } from "./client-auth.js";
export { type CallInput, KensaClient, type KensaClientOptions, type UploadBody } from "./kensa-client.js";
