// agent processes and the mail and webhook inbox are the demo's too: they live in
// @kensa/scenario (which the CLI may depend on at run time) and tests keep finding them here
export * from "@kensa/scenario/agent-process";
export * from "@kensa/scenario/smtp-sink";
export * from "@kensa/scenario/webhook-sink";
export * from "./ffmpeg.js";
export * from "./mosquitto.js";
export * from "./ports.js";
export * from "./postgres.js";
export * from "./repo-root.js";
export * from "./services.js";
export * from "./temp-dir.js";
export * from "./test-ca.js";
export * from "./wait-for.js";
