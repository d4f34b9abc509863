import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { KensaError, type ProjectReference, referenceRoutes } from "@kensa/contracts";
import type { Command } from "commander";
import { hubClientFrom } from "../hub-client.js";
import { resolveProject } from "../resolve.js";
import { type Column, printList } from "../table.js";

interface HubFlags {
  hub?: string;
  token?: string;
  dataDir?: string;
  json?: boolean;
}
type HubOpts = (cmd: Command) => Command;

const flagsOf = <T>(cmd: Command) => cmd.optsWithGlobals() as T;

const columns: Column<ProjectReference>[] = [
  { header: "key", value: (r) => (r.isDefault ? `${r.key} (default)` : r.key) },
  { header: "size", value: (r) => `${r.width}×${r.height}` },
  { header: "sha256", value: (r) => r.sha256.slice(0, 12) },
  { header: "added", value: (r) => `${r.createdAt} by ${r.createdBy}` },
];

/** `kensa project reference add | list | remove`: a project's golden references (docs/datasets.md). */
export function registerProjectReferences(project: Command, hubOpts: HubOpts): void {
  const reference = project
    .command("reference")
    .description("golden reference images of reference-image inspection, one per product / recipe key");
  hubOpts(
    reference
      .command("add")
      .description("register (or replace) the reference image of a key")
      .argument("<project>", "id, slug or name")
      .argument("<image>", "PNG or JPEG of a good part, framed as the camera frames it")
      .requiredOption("--key <key>", "product / recipe key that samples and frames name")
      .option("--default", "make it the project's default reference (the first one always is)")
      .option("--json", "print JSON"),
  ).action(async (ref: string, image: string, _o: unknown, cmd: Command) => {
    const o = flagsOf<HubFlags & { key: string; default?: boolean }>(cmd);
    const ext = extname(image).toLowerCase();
    const contentType = ext === ".png" ? "image/png" : ext === ".jpg" || ext === ".jpeg" ? "image/jpeg" : null;
    if (!contentType) throw new KensaError("KENSA_ERR_FLAG_INVALID", `${image}: a reference is a .png or .jpg file`);
    const client = hubClientFrom(o);
    const p = await resolveProject(client, ref);
    const r = await client.call(referenceRoutes.addReference, {
      params: { id: p.id },
      query: { key: o.key, ...(o.default ? { default: true } : {}) },
      upload: await readFile(image),
      contentType,
    });
    if (o.json) console.log(JSON.stringify(r, null, 2));
    else
      console.log(`project ${p.slug}: reference "${r.key}" ${r.width}×${r.height}${r.isDefault ? " (default)" : ""}`);
  });
  hubOpts(
    reference
      .command("list")
      .description("the project's references, the default first")
      .argument("<project>", "id, slug or name")
      .option("--json", "print JSON"),
  ).action(async (ref: string, _o: unknown, cmd: Command) => {
    const o = flagsOf<HubFlags>(cmd);
    const client = hubClientFrom(o);
    const p = await resolveProject(client, ref);
    const { items } = await client.call(referenceRoutes.listReferences, { params: { id: p.id } });
    printList(items, columns, o, "references yet (kensa project reference add)");
  });
  hubOpts(
    reference
      .command("remove")
      .description("remove a key's reference (snapshots and models that froze it keep its image)")
      .argument("<project>", "id, slug or name")
      .argument("<key>", "the product / recipe key"),
  ).action(async (ref: string, key: string, _o: unknown, cmd: Command) => {
    const o = flagsOf<HubFlags>(cmd);
    const client = hubClientFrom(o);
    const p = await resolveProject(client, ref);
    await client.call(referenceRoutes.removeReference, { params: { id: p.id, key } });
    console.log(`project ${p.slug}: reference "${key}" removed`);
  });
}
