import {
  type DatabaseIntrospector,
  type DatabaseMetadata,
  type DatabaseMetadataOptions,
  type Kysely,
  PostgresDialect,
  type SchemaMetadata,
  sql,
  type TableMetadata,
} from "kysely";

/**
 * What Kysely's migrator asks before it migrates: which schemas and tables exist. Kysely's own
 * PostgreSQL introspector answers with every column of every table in the database and calls
 * `pg_get_serial_sequence` and `has_schema_privilege` by name for each; when another client
 * drops a schema or table in the same database meanwhile (another Kensa instance in a schema of
 * its own, a test cleaning up), those calls fail with "column … of relation … does not exist" and
 * the hub does not start. This one reads names only, straight from the catalog, and only of the
 * schemas on the connection's search path (where Kensa's tables and the migrator's own are), so
 * nothing another client does can fail it. Tables come without columns: nothing in the hub reads
 * them.
 */
export class SearchPathIntrospector implements DatabaseIntrospector {
  readonly #db: Kysely<unknown>;

  constructor(db: Kysely<unknown>) {
    this.#db = db;
  }

  async getSchemas(): Promise<SchemaMetadata[]> {
    const rows = await sql<{ name: string }>`SELECT nspname AS name FROM pg_catalog.pg_namespace`.execute(this.#db);
    return rows.rows.map((r) => ({ name: r.name }));
  }

  async getTables(): Promise<TableMetadata[]> {
    const rows = await sql<{ name: string; schema: string; kind: string }>`
      SELECT c.relname AS name, ns.nspname AS schema, c.relkind AS kind
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'v', 'p') AND ns.nspname = ANY (current_schemas(false))
      ORDER BY ns.nspname, c.relname`.execute(this.#db);
    return rows.rows.map((r) => ({ name: r.name, schema: r.schema, isView: r.kind === "v", columns: [] }));
  }

  async getMetadata(_options?: DatabaseMetadataOptions): Promise<DatabaseMetadata> {
    return { tables: await this.getTables() };
  }
}

/** PostgreSQL as Kysely speaks it, introspected by `SearchPathIntrospector`. */
export class KensaPostgresDialect extends PostgresDialect {
  override createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new SearchPathIntrospector(db);
  }
}
