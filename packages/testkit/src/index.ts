export * from "./agent-process.js";
export * from "./services.js";
export * from "./smtp-sink.js";
export * from "./temp-dir.js";
export * from "./wait-for.js";
export * from "./webhook-sink.js";
