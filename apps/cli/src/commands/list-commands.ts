import { type Deployment, type Device, fleetRoutes, KensaError, type Project, projectRoutes } from "@kensa/contracts";
import type { Command } from "commander";
import { hubClientFrom } from "../hub-client.js";
import { resolveDevice, resolveProject } from "../resolve.js";
import { ago, type Column, printList, printRecord } from "../table.js";

interface HubFlags {
  hub?: string;
  token?: string;
  dataDir?: string;
}
type ListFlags = HubFlags & { project?: string; json?: boolean; retired?: boolean };
type HubOpts = (cmd: Command) => Command;

/** Flags of a command: its own and its parents' (`deploy list` shares `deploy`'s --hub). */
const flagsOf = <T>(cmd: Command) => cmd.optsWithGlobals() as T;

/** `kensa project list | show <id|slug|name>` */
export function registerProjectLists(project: Command, hubOpts: HubOpts): void {
  hubOpts(project.command("list").description("projects").option("--json", "print JSON")).action(
    async (_o: unknown, cmd: Command) => {
      const o = flagsOf<ListFlags>(cmd);
      const { items } = await hubClientFrom(o).call(projectRoutes.list);
      printList(items, projectColumns, o, "projects yet (kensa project create)");
    },
  );
  hubOpts(
    project
      .command("show")
      .description("one project: labels, incident rule, notifications")
      .argument("<project>", "id, slug or name")
      .option("--json", "print JSON"),
  ).action(async (ref: string, _o: unknown, cmd: Command) => {
    const o = flagsOf<ListFlags>(cmd);
    const p = await resolveProject(hubClientFrom(o), ref);
    printRecord(
      p,
      [
        ["id", p.id],
        ["slug", p.slug],
        ["name", p.name],
        ["task", p.task],
        ["labels", p.labels.join(", ")],
        ["ok labels", p.okLabels.join(", ")],
        ["rule", JSON.stringify(p.rule)],
        ["e-mail", p.notifications.email.join(", ")],
        ["webhooks", p.notifications.webhooks.map((w) => w.url).join(", ")],
        ["cooldown", `${p.notifications.cooldownSec} s`],
        ["created", p.createdAt],
      ],
      o,
    );
  });
}

const projectColumns: Column<Project>[] = [
  { header: "slug", value: (p) => p.slug },
  { header: "name", value: (p) => p.name },
  { header: "task", value: (p) => p.task },
  { header: "labels", value: (p) => p.labels.join(",") },
  { header: "id", value: (p) => p.id },
];

/** `kensa device list [--project] | show <id|name>` */
export function registerDeviceLists(device: Command, hubOpts: HubOpts): void {
  hubOpts(
    device
      .command("list")
      .description("enrolled devices, with presence and the model they run")
      .option("--project <project>", "only this project's (id, slug or name)")
      .option("--retired", "retired devices too")
      .option("--json", "print JSON"),
  ).action(async (_o: unknown, cmd: Command) => {
    const o = flagsOf<ListFlags>(cmd);
    const query = { projectId: o.project, ...(o.retired ? { retired: "include" as const } : {}) };
    const { items } = await hubClientFrom(o).call(fleetRoutes.list, { query });
    printList(items, deviceColumns, o, "devices yet (kensa device enroll)");
  });
  hubOpts(
    device
      .command("show")
      .description("one device: presence, pipelines, sources, telemetry")
      .argument("<device>", "id or name")
      .option("--json", "print JSON"),
  ).action(async (ref: string, _o: unknown, cmd: Command) => {
    const o = flagsOf<ListFlags>(cmd);
    const client = hubClientFrom(o);
    const d = await client.call(fleetRoutes.get, { params: { id: (await resolveDevice(client, ref)).id } });
    const r = d.reported;
    printRecord(
      d,
      [
        ["id", d.id],
        ["name", d.name],
        ["project", d.projectId],
        ["presence", `${d.presence}${d.lastSeenAt ? ` (last seen ${ago(d.lastSeenAt)})` : ""}`],
        ["description", d.description],
        ["retired", d.retiredAt],
        ["revoked", d.revokedAt],
        ["arch", d.arch ?? r?.arch],
        ["tags", d.tags.join(", ")],
        ["agent", r ? `${r.agentVersion} on ${r.platform}` : null],
        ...(r?.pipelines ?? []).map(
          (p) =>
            [
              `pipeline ${p.id}`,
              `${p.status}${p.bundle ? ` model ${p.bundle.modelVersionId}` : ""}${p.error ? ` — ${p.error.code}: ${p.error.message}` : ""}`,
            ] as [string, string],
        ),
        ...(r?.sources ?? []).map(
          (s) =>
            [`source ${s.id}`, `${s.type} ${s.status}${s.error ? ` — ${s.error.code}: ${s.error.message}` : ""}`] as [
              string,
              string,
            ],
        ),
        ["events", `${d.events.stored} stored, ${d.events.missing} missing`],
        ["enrolled", d.createdAt],
      ],
      o,
    );
  });
}

const deviceColumns: Column<Device>[] = [
  { header: "id", value: (d) => d.id },
  { header: "name", value: (d) => d.name },
  { header: "presence", value: (d) => (d.retiredAt ? "retired" : d.revokedAt ? "revoked" : d.presence) },
  { header: "last seen", value: (d) => ago(d.lastSeenAt) },
  { header: "model", value: (d) => runningModels(d) },
  { header: "tags", value: (d) => d.tags.join(",") },
  { header: "project", value: (d) => d.projectId },
];

function runningModels(d: Device): string {
  const ids = (d.reported?.pipelines ?? []).flatMap((p) => (p.bundle ? [p.bundle.modelVersionId] : []));
  return [...new Set(ids)].join(",");
}

/** `kensa deploy list [--project] | show <id>` */
export function registerDeployLists(deploy: Command, hubOpts: HubOpts): void {
  hubOpts(
    deploy
      .command("list")
      .description("deployments, newest first")
      .option("--project <project>", "only this project's (id, slug or name)")
      .option("--json", "print JSON"),
  ).action(async (_o: unknown, cmd: Command) => {
    const o = flagsOf<ListFlags>(cmd);
    const { items } = await hubClientFrom(o).call(fleetRoutes.listDeployments, { query: { projectId: o.project } });
    printList(items, deploymentColumns, o, "deployments yet (kensa deploy <model>)");
  });
  hubOpts(
    deploy
      .command("show")
      .description("one deployment: model, bundle, target and devices")
      .argument("<id>", "deployment id")
      .option("--json", "print JSON"),
  ).action(async (id: string, _o: unknown, cmd: Command) => {
    const o = flagsOf<ListFlags>(cmd);
    const { items } = await hubClientFrom(o).call(fleetRoutes.listDeployments, { query: {} });
    const d = items.find((x) => x.id === id);
    if (!d) throw new KensaError("KENSA_ERR_DEPLOYMENT_NOT_FOUND", `no deployment "${id}"; see kensa deploy list`);
    printRecord(
      d,
      [
        ["id", d.id],
        ["project", d.projectId],
        ["model", d.modelVersionId],
        ["bundle", d.bundleSha256],
        ["pipeline", d.pipeline],
        ["target", [...d.target.deviceIds, ...d.target.tags.map((t) => `tag:${t}`)].join(", ")],
        ["devices", d.deviceIds.join(", ")],
        ["created", d.createdAt],
      ],
      o,
    );
  });
}

const deploymentColumns: Column<Deployment>[] = [
  { header: "id", value: (d) => d.id },
  { header: "created", value: (d) => ago(d.createdAt) },
  { header: "model", value: (d) => d.modelVersionId },
  { header: "pipeline", value: (d) => d.pipeline },
  { header: "devices", value: (d) => d.deviceIds.join(",") },
  { header: "bundle", value: (d) => d.bundleSha256.slice(0, 12) },
];
