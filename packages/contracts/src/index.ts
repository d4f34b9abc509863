export * from "./canonical.js";
export * from "./common.js";
export * from "./datasets/schemas.js";
export * from "./errors.js";
export * from "./fleet/schemas.js";
export * from "./incidents/schemas.js";
export * from "./manifest.js";
export * from "./mqtt/payloads.js";
export * from "./mqtt/topics.js";
export * from "./people/schemas.js";
export * from "./projects/schemas.js";
export * from "./registry/models.js";
export * from "./registry/schemas.js";
export * from "./route.js";
export * from "./rules.js";
export * from "./system/schemas.js";
export * from "./trainer.js";
export * from "./training/schemas.js";
export * from "./validate.js";

/** Protocol and API version shared by hub and agent. */
export const PROTOCOL_VERSION = 1;
