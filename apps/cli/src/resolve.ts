import type { KensaClient } from "@kensa/client";
import {
  type Device,
  fleetRoutes,
  KensaError,
  type ModelVersion,
  type Project,
  projectRoutes,
  registryRoutes,
} from "@kensa/contracts";
import type { Command } from "commander";
import { hubClientFrom } from "./hub-client.js";

/**
 * Names where ids are taken: a project by id, slug or name; a device by id or name; a model
 * version by id, `<name>@<version>` (or `<name>:v<version>`), a name with one version, or
 * `<project slug>@<version>` (`line-1@3`).
 * Several matches are KENSA_ERR_REFERENCE_AMBIGUOUS listing them; none is the resource's
 * not-found code listing what there is.
 */
export async function resolveProject(client: KensaClient, ref: string): Promise<Project> {
  const { items } = await client.call(projectRoutes.list);
  const lower = ref.toLowerCase();
  const hit =
    pickOne(items, (p) => p.id === ref) ??
    pickOne(items, (p) => p.slug === ref) ??
    pickOne(items, (p) => p.slug.toLowerCase() === lower || p.name.toLowerCase() === lower, {
      ref,
      what: "projects",
      label: (p) => `${p.slug} (id ${p.id}, "${p.name}")`,
    });
  if (hit) return hit;
  throw new KensaError(
    "KENSA_ERR_PROJECT_NOT_FOUND",
    `no project with id, slug or name "${ref}"; ${
      items.length ? `projects: ${items.map((p) => `${p.slug} (${p.id})`).join(", ")}` : "there are no projects yet"
    }`,
  );
}

/** A device in service by id or name; else a retired one (a replacement often takes the retired one's name). */
export async function resolveDevice(client: KensaClient, ref: string): Promise<Device> {
  const { items } = await client.call(fleetRoutes.list, { query: {} });
  const find = (list: Device[]) =>
    pickOne(list, (d) => d.id === ref) ??
    pickOne(list, (d) => d.name === ref || d.name.toLowerCase() === ref.toLowerCase(), {
      ref,
      what: "devices",
      label: (d) => `${d.id} ("${d.name}", project ${d.projectId}${d.retiredAt ? ", retired" : ""})`,
    });
  const hit = find(items) ?? find((await client.call(fleetRoutes.list, { query: { retired: "only" } })).items);
  if (hit) return hit;
  throw new KensaError(
    "KENSA_ERR_DEVICE_NOT_FOUND",
    `no device with id or name "${ref}"${items.length ? "; see kensa device list" : "; there are no devices yet"}`,
  );
}

export async function resolveModel(client: KensaClient, ref: string): Promise<ModelVersion> {
  const { items } = await client.call(registryRoutes.list, { query: {} });
  const byId = pickOne(items, (v) => v.id === ref);
  if (byId) return byId;
  const m = /^(.+?)(?:@v?|:v)(\d+)$/.exec(ref);
  const name = (m?.[1] ?? ref).toLowerCase();
  const version = m ? Number(m[2]) : null;
  const hit = pickOne(items, (v) => v.name.toLowerCase() === name && (version === null || v.version === version), {
    ref,
    what: "model versions",
    label: (v) => `${v.name}@${v.version} (id ${v.id}, ${v.stage})`,
  });
  if (hit) return hit;
  if (m) {
    // <project slug>@<version>: versions are numbered per project
    const project = (await client.call(projectRoutes.list)).items.find((p) => p.slug.toLowerCase() === name);
    const inProject = items.find((v) => v.projectId === project?.id && v.version === version);
    if (inProject) return inProject;
  }
  throw new KensaError(
    "KENSA_ERR_MODEL_NOT_FOUND",
    `no model version with id "${ref}", <name>@<version> or <project slug>@<version>; ${
      items.length ? "see kensa model list" : "there are no model versions yet"
    }`,
  );
}

/** The one item matching; null for none; several: an ambiguity error when `ambiguous` describes them, else the first. */
function pickOne<T>(
  items: T[],
  match: (item: T) => boolean,
  ambiguous?: { ref: string; what: string; label: (item: T) => string },
): T | null {
  const hits = items.filter(match);
  if (hits.length <= 1 || !ambiguous) return hits[0] ?? null;
  throw new KensaError(
    "KENSA_ERR_REFERENCE_AMBIGUOUS",
    `"${ambiguous.ref}" matches ${hits.length} ${ambiguous.what}: ${hits.map(ambiguous.label).join("; ")}; pass one of their ids`,
  );
}

const selfResolving = new WeakSet<Command>();

/** A command that checks its flags first and resolves `--project` itself (with resolveProject). */
export function resolvesOwnProject(cmd: Command): Command {
  selfResolving.add(cmd);
  return cmd;
}

/**
 * Every command that talks to a hub and takes `--project`: the value may be an id, a slug or a
 * name; it is swapped for the id before the command runs (one list call).
 */
export function resolveProjectFlags(program: Command): void {
  program.hook("preAction", async (_root, action) => {
    const ref = action.getOptionValue("project");
    const talksToHub = action.options.some((o) => o.long === "--hub");
    if (typeof ref !== "string" || !talksToHub || selfResolving.has(action)) return;
    const project = await resolveProject(hubClientFrom(action.optsWithGlobals()), ref);
    action.setOptionValue("project", project.id);
  });
}
