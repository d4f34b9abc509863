// The datasets domain's HTTP schemas, by sub-domain.
export * from "./samples.js";
export * from "./snapshots.js";
export * from "./transfers.js";
