import type { Kysely } from "kysely";

/**
 * Per-target bundles: which bundle (and target) each device of a deployment got, the files a
 * bundle pins besides its manifest (the model file of its precision, golden frames: a device may
 * fetch those), the self-tests devices reported, and the precision a deployment asked for.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("deployments").addColumn("precision", "text").execute();
  await db.schema
    .createTable("deployment_targets")
    .addColumn("deployment_id", "text", (c) => c.notNull())
    .addColumn("device_id", "text", (c) => c.notNull())
    .addColumn("bundle_sha256", "text", (c) => c.notNull())
    .addColumn("arch", "text", (c) => c.notNull())
    .addColumn("precision", "text", (c) => c.notNull())
    .addColumn("runtime", "text", (c) => c.notNull())
    .addColumn("model_sha256", "text", (c) => c.notNull())
    .addColumn("model_size", "integer", (c) => c.notNull())
    .addPrimaryKeyConstraint("deployment_targets_pk", ["deployment_id", "device_id"])
    .execute();
  await db.schema
    .createTable("bundle_files")
    .addColumn("bundle_sha256", "text", (c) => c.notNull())
    .addColumn("sha256", "text", (c) => c.notNull())
    .addColumn("project_id", "text", (c) => c.notNull())
    .addColumn("role", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("bundle_files_pk", ["bundle_sha256", "sha256"])
    .execute();
  await db.schema.createIndex("bundle_files_blob").on("bundle_files").columns(["sha256", "project_id"]).execute();
  await db.schema
    .createTable("bundle_self_tests")
    .addColumn("device_id", "text", (c) => c.notNull())
    .addColumn("pipeline", "text", (c) => c.notNull())
    .addColumn("bundle_sha256", "text", (c) => c.notNull())
    .addColumn("arch", "text", (c) => c.notNull())
    .addColumn("precision", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("report", "text", (c) => c.notNull())
    .addColumn("reported_at", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("bundle_self_tests_pk", ["device_id", "pipeline", "bundle_sha256"])
    .execute();
  await db.schema.createIndex("bundle_self_tests_bundle").on("bundle_self_tests").columns(["bundle_sha256"]).execute();
}
