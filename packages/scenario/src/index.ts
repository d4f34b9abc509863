export * from "./agent-process.js";
export * from "./deploy.js";
export * from "./enroll-agents.js";
export * from "./inspection-project.js";
export * from "./models.js";
export * from "./scenario-hub.js";
export * from "./smtp-sink.js";
export * from "./webhook-sink.js";
