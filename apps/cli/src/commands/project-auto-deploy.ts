import type { KensaClient } from "@kensa/client";
import { KensaError, type TrainingSettings, trainingRoutes } from "@kensa/contracts";
import type { Command } from "commander";
import { hubClientFrom } from "../hub-client.js";
import { resolveDevice, resolveProject } from "../resolve.js";

interface HubFlags {
  hub?: string;
  token?: string;
  dataDir?: string;
}
type HubOpts = (cmd: Command) => Command;

/** The auto-deploy flags of `project create` and `project update`. */
export interface AutoDeployFlags {
  autoDeployTag?: string[];
  autoDeployDevice?: string[];
  autoDeployPipeline?: string;
}

/** Adds `--auto-deploy-tag`, `--auto-deploy-device` and `--auto-deploy-pipeline` to a command. */
export function autoDeployOptions(cmd: Command): Command {
  return cmd
    .option("--auto-deploy-tag <tag...>", "deploy approved models to devices with these tags")
    .option("--auto-deploy-device <device...>", "deploy approved models to these devices (ids or names)")
    .option("--auto-deploy-pipeline <id>", "the pipeline approved models go to (default: default)");
}

export const hasAutoDeployFlags = (o: AutoDeployFlags): boolean =>
  Boolean(o.autoDeployTag?.length || o.autoDeployDevice?.length || o.autoDeployPipeline);

/** Where a project's approved models go, in words. */
export function describeAutoDeploy(target: TrainingSettings["autoDeploy"]): string {
  if (!target || (target.tags.length === 0 && target.deviceIds.length === 0)) return "none";
  const parts = [
    ...(target.tags.length ? [`tags ${target.tags.join(", ")}`] : []),
    ...(target.deviceIds.length ? [`devices ${target.deviceIds.join(", ")}`] : []),
  ];
  return `${parts.join(" and ")} (pipeline ${target.pipeline})`;
}

/**
 * Sets the project's auto-deploy target from the flags (`null`: none); flags left out keep
 * their stored value. Returns the target now stored.
 */
export async function setAutoDeploy(
  client: KensaClient,
  projectId: string,
  o: AutoDeployFlags | null,
): Promise<TrainingSettings["autoDeploy"]> {
  let autoDeploy: { tags?: string[]; deviceIds?: string[]; pipeline?: string } | null = null;
  if (o) {
    autoDeploy = {};
    if (o.autoDeployTag) autoDeploy.tags = o.autoDeployTag;
    if (o.autoDeployDevice) {
      autoDeploy.deviceIds = [];
      for (const d of o.autoDeployDevice) autoDeploy.deviceIds.push((await resolveDevice(client, d)).id);
    }
    if (o.autoDeployPipeline) autoDeploy.pipeline = o.autoDeployPipeline;
  }
  const s = await client.call(trainingRoutes.updateSettings, { params: { id: projectId }, body: { autoDeploy } });
  return s.autoDeploy;
}

/** `kensa project update <project> --auto-deploy-tag … | --no-auto-deploy` */
export function registerProjectUpdate(project: Command, hubOpts: HubOpts): void {
  hubOpts(
    autoDeployOptions(
      project
        .command("update")
        .description("change a project's auto-deploy target: where approved models go")
        .argument("<project>", "id, slug or name"),
    ).option("--no-auto-deploy", "approved models are not deployed automatically"),
  ).action(async (ref: string, o: AutoDeployFlags & HubFlags & { autoDeploy: boolean }) => {
    if (!o.autoDeploy && hasAutoDeployFlags(o)) {
      throw new KensaError("KENSA_ERR_FLAG_INVALID", "--no-auto-deploy cannot be combined with --auto-deploy-…");
    }
    if (o.autoDeploy && !hasAutoDeployFlags(o)) {
      throw new KensaError(
        "KENSA_ERR_FLAG_INVALID",
        "nothing to change: give --auto-deploy-tag, --auto-deploy-device, --auto-deploy-pipeline or --no-auto-deploy",
      );
    }
    const client = hubClientFrom(o);
    const p = await resolveProject(client, ref);
    const target = await setAutoDeploy(client, p.id, o.autoDeploy ? o : null);
    console.log(`project ${p.slug}: auto-deploy target ${describeAutoDeploy(target)}`);
  });
}
