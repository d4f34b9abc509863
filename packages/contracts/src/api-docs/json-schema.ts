import type { TSchema } from "@sinclair/typebox";

/**
 * A TypeBox schema as plain JSON Schema (2020-12, as OpenAPI 3.1 and AsyncAPI 3 take it): TypeBox
 * keeps its own bookkeeping under symbol keys, which JSON drops.
 */
export function jsonSchema(schema: TSchema): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
}
