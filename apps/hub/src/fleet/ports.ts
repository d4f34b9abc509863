import type { ModelVersion } from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";

/** The model versions a deployment ships, as the registry holds them (implemented by registry). */
export interface ModelLookup {
  get(id: string, db?: Kysely<HubDatabase>): Promise<ModelVersion>;
}
