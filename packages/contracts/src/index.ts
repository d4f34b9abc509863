export * from "./auth.js";
export * from "./canonical.js";
export * from "./datasets.js";
export * from "./errors.js";
export * from "./http.js";
export * from "./manifest.js";
export * from "./mqtt.js";
export * from "./registry.js";
export * from "./rules.js";
export * from "./topics.js";
export * from "./trainer.js";
export * from "./validate.js";

/** Protocol and API version shared by hub and agent. */
export const PROTOCOL_VERSION = 1;
