import { type DeviceConfigRevision, type DeviceConfigView, deviceConfigRoutes, KensaError } from "@kensa/contracts";
import type { Command } from "commander";
import { intFlag, readJsonFile } from "../cli-input.js";
import { hubClientFrom } from "../hub-client.js";
import { resolveDevice, resolveProject } from "../resolve.js";

interface HubFlags {
  hub?: string;
  token?: string;
  dataDir?: string;
}

/**
 * `kensa device config get|set|history`: a device's remote config (docs/agent.md, "Remote
 * configuration"); `--project` works on the project's default, merged under each device's own.
 */
export function registerDeviceConfigCommands(device: Command, hubOpts: (cmd: Command) => Command): void {
  const config = device.command("config").description("a device's remote config (sources, capture, media…)");
  hubOpts(
    config
      .command("get [device]")
      .description("the device's config: desired (its own over the project default) and what it applied")
      .option("--project <project>", "the project's default config instead of a device's")
      .option("--json", "print the whole view as JSON"),
  ).action(async (ref: string | undefined, o: HubFlags & { project?: string; json?: boolean }) => {
    const client = hubClientFrom(o);
    if (o.project) {
      const project = await resolveProject(client, o.project);
      const view = await client.call(deviceConfigRoutes.getProjectDeviceConfig, { params: { id: project.id } });
      console.log(JSON.stringify(o.json ? view : (view.config?.config ?? null), null, 2));
      return;
    }
    const d = await resolveDevice(client, needDevice(ref));
    const view = await client.call(deviceConfigRoutes.getDeviceConfig, { params: { id: d.id } });
    if (o.json) console.log(JSON.stringify(view, null, 2));
    else describe(view);
  });
  hubOpts(
    config
      .command("set [device]")
      .description("set the device's config from a JSON file (a new revision); refused with the key paths when invalid")
      .requiredOption("--file <config.json>", "the config: the remote keys of agent.json (docs/agent.md)")
      .option("--project <project>", "set the project's default instead of a device's")
      .option("--comment <text>", "why, kept with the revision"),
  ).action(async (ref: string | undefined, o: HubFlags & { file: string; project?: string; comment?: string }) => {
    const client = hubClientFrom(o);
    const value = await readJsonFile(o.file, "device config");
    if (!value || typeof value !== "object" || Array.isArray(value)) {
      throw new KensaError("KENSA_ERR_DEVICE_CONFIG_INVALID", `${o.file}: a device config is a JSON object`);
    }
    const body = { config: value as Record<string, unknown>, ...(o.comment ? { comment: o.comment } : {}) };
    if (o.project) {
      const project = await resolveProject(client, o.project);
      const view = await client.call(deviceConfigRoutes.setProjectDeviceConfig, { params: { id: project.id }, body });
      console.log(`project ${project.slug}: device config rev ${view.config?.rev}`);
      return;
    }
    const d = await resolveDevice(client, needDevice(ref));
    const view = await client.call(deviceConfigRoutes.setDeviceConfig, { params: { id: d.id }, body });
    console.log(
      `device ${d.id}: config rev ${view.device?.rev}; sent as rev ${view.delivered?.rev ?? "-"} (applied: ${view.applied?.rev ?? "-"})`,
    );
  });
  hubOpts(
    config
      .command("history [device]")
      .description("revisions of the device's own config (or the project's default), newest first")
      .option("--project <project>", "the project's default instead of a device's")
      .option("--limit <n>", "revisions to show", intFlag("--limit", 1, 500), 20)
      .option("--json", "print the revisions as JSON"),
  ).action(async (ref: string | undefined, o: HubFlags & { project?: string; limit: number; json?: boolean }) => {
    const client = hubClientFrom(o);
    const query = { limit: o.limit };
    const { items } = o.project
      ? await client.call(deviceConfigRoutes.projectDeviceConfigHistory, {
          params: { id: (await resolveProject(client, o.project)).id },
          query,
        })
      : await client.call(deviceConfigRoutes.deviceConfigHistory, {
          params: { id: (await resolveDevice(client, needDevice(ref))).id },
          query,
        });
    if (o.json) console.log(JSON.stringify(items, null, 2));
    else for (const r of items) console.log(historyLine(r));
  });
}

function needDevice(ref: string | undefined): string {
  if (!ref) throw new KensaError("KENSA_ERR_FLAG_INVALID", "name a device (id or name), or pass --project");
  return ref;
}

function historyLine(r: DeviceConfigRevision): string {
  const keys = Object.keys(r.config).join(",") || "(empty)";
  return `rev ${r.rev}  ${r.createdAt}  ${r.createdBy ?? "-"}  ${r.sha256.slice(0, 12)}  ${keys}${r.comment ? `  "${r.comment}"` : ""}`;
}

function describe(v: DeviceConfigView): void {
  const a = v.applied;
  console.log(`device ${v.deviceId}`);
  console.log(`  own config:      ${v.device ? `rev ${v.device.rev} (${v.device.createdAt})` : "none"}`);
  console.log(`  project default: ${v.project ? `rev ${v.project.rev}` : "none"}`);
  console.log(
    `  desired:         ${v.delivered ? `rev ${v.delivered.rev} ${v.delivered.sha256.slice(0, 12)}` : "none"}`,
  );
  console.log(
    `  applied:         ${a ? `rev ${a.rev} (${a.status}${a.desiredRev !== a.rev ? `, received ${a.desiredRev}` : ""})` : "not reported"}`,
  );
  if (a?.error) {
    console.log(`  refused:         ${a.error.code}: ${a.error.message}`);
    for (const i of a.error.issues ?? []) console.log(`    ${i.path}: ${i.message}`);
  }
  if (a?.overridden?.length) console.log(`  pinned locally:  ${a.overridden.join(", ")}`);
  if (a?.restarted?.length) console.log(`  restarted for:   ${a.restarted.join(", ")}`);
  console.log(JSON.stringify(v.delivered?.config ?? {}, null, 2));
}
