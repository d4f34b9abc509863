import { ApiError, type KensaClient } from "@kensa/client";
import {
  type HubHealth,
  type HubStats,
  type ModelVersion,
  type Project,
  projectRoutes,
  type Rollout,
  registryRoutes,
  rolloutRoutes,
  systemRoutes,
  type TrainingRun,
  trainingRoutes,
} from "@kensa/contracts";
import type { Command } from "commander";
import { hubClientFrom, lastTokenSource } from "../hub-client.js";
import { ago } from "../table.js";

interface StatusFlags {
  hub?: string;
  token?: string;
  dataDir?: string;
  json?: boolean;
}
type HubOpts = (cmd: Command) => Command;

/** Everything `kensa status` shows, as `--json` prints it. */
export interface HubStatus {
  hub: string;
  health: HubHealth;
  stats: HubStats;
  training: { running: TrainingRun[]; queued: number };
  projects: Array<{
    slug: string;
    name: string;
    champion: { version: number; since: string } | null;
    candidates: number;
  }>;
  /** staged rollouts under way; a paused one is shown with its reason but never makes the hub degraded */
  rollouts: {
    running: number;
    paused: Array<{ id: string; model: string; reason: string | null; since: string }>;
  };
}

/** Exit code of `kensa status` when the hub answers but reports problems (scripts can tell). */
export const DEGRADED_EXIT = 2;

/** Reads the hub's health, counters, training queue and every project's champion in one go. */
export async function readStatus(client: KensaClient, hub: string): Promise<HubStatus> {
  const [health, stats, projects, running, queued, models, rollouts] = await Promise.all([
    client.call(systemRoutes.health),
    client.call(systemRoutes.stats),
    client.call(projectRoutes.list),
    client.call(trainingRoutes.list, { query: { status: "running", limit: 100 } }),
    client.call(trainingRoutes.list, { query: { status: "queued", limit: 1000 } }),
    client.call(registryRoutes.list, { query: {} }),
    liveRollouts(client),
  ]);
  return {
    hub,
    health,
    stats,
    training: { running: running.items, queued: queued.items.length },
    projects: projects.items.map((p) => projectLine(p, models.items)),
    rollouts: {
      running: rollouts.filter((r) => r.state === "running").length,
      paused: rollouts
        .filter((r) => r.state === "paused")
        .map((r) => {
          const m = models.items.find((v) => v.id === r.modelVersionId);
          return {
            id: r.id,
            model: m ? `${m.name}@${m.version}` : r.modelVersionId,
            reason: r.reason,
            since: r.updatedAt,
          };
        }),
    },
  };
}

/** Running and paused rollouts; none from a hub that predates rollouts (it answers 404 there). */
async function liveRollouts(client: KensaClient): Promise<Rollout[]> {
  const list = (state: "running" | "paused") =>
    client.call(rolloutRoutes.listRollouts, { query: { state } }).then((r) => r.items);
  try {
    return (await Promise.all([list("running"), list("paused")])).flat();
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return [];
    throw err;
  }
}

function projectLine(p: Project, models: ModelVersion[]): HubStatus["projects"][number] {
  const own = models.filter((m) => m.projectId === p.id);
  const champion = own.find((m) => m.champion);
  return {
    slug: p.slug,
    name: p.name,
    champion: champion ? { version: champion.version, since: champion.createdAt } : null,
    candidates: own.filter((m) => m.stage === "candidate").length,
  };
}

const n = (v: number) => v.toLocaleString("en-US");

/** The status as a few aligned lines a person reads at a glance. */
export function formatStatus(s: HubStatus, now = Date.now()): string {
  const { health, stats } = s;
  const ing = stats.ingest;
  const lines: Array<[string, string]> = [
    [
      "hub",
      `${s.hub}  ${health.status === "ok" ? "ok" : "DEGRADED"} (protocol ${health.protocol}, MQTT ${health.mqtt})`,
    ],
    ["devices", `${n(stats.devices.online)} of ${n(stats.devices.total)} online`],
    [
      "events",
      `${n(stats.events)} stored; this process: ${n(ing.stored)} stored, ${n(ing.queued)} queued, ` +
        `${n(ing.storeFailed)} store failures, ${n(ing.rejected)} rejected, ${n(ing.shed)} shed`,
    ],
    ["incidents", `${n(stats.incidents)} (${n(stats.verdicts)} verdicts)`],
    [
      "notifications",
      `${n(stats.notifications.sent)} sent, ${n(stats.notifications.failed)} failed, ` +
        `${n(stats.notifications.pending)} pending, ${n(stats.notifications.suppressed)} suppressed`,
    ],
    ["training", trainingLine(s.training)],
  ];
  const width = Math.max(...lines.map(([k]) => k.length), "rollouts".length);
  const out = lines.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
  for (const r of s.training.running) {
    const p = r.progress;
    const where = p ? `epoch ${p.epoch}/${p.epochs}` : "starting";
    out.push(`${"".padEnd(width)}  ${r.id}: ${where}, started ${ago(r.startedAt, now)}`);
  }
  // after the training runs: each line's details follow it
  out.push(`${"rollouts".padEnd(width)}  ${rolloutsLine(s.rollouts)}`);
  for (const r of s.rollouts.paused) {
    out.push(`${"".padEnd(width)}  ${r.id} (${r.model}) paused ${ago(r.since, now)}: ${r.reason ?? "no reason given"}`);
  }
  if (s.projects.length > 0) {
    out.push("projects");
    const slugWidth = Math.max(...s.projects.map((p) => p.slug.length));
    for (const p of s.projects) {
      const champ = p.champion ? `champion v${p.champion.version} (${ago(p.champion.since, now)})` : "no champion";
      const cands = p.candidates > 0 ? `, ${p.candidates} candidate${p.candidates > 1 ? "s" : ""} waiting` : "";
      out.push(`  ${p.slug.padEnd(slugWidth)}  ${champ}${cands}`);
    }
  } else out.push("projects   none yet (kensa project create)");
  if (health.problems.length > 0) {
    out.push("problems");
    for (const p of health.problems) out.push(`  ${p.code} since ${p.since}: ${p.message}`);
  }
  return out.join("\n");
}

function rolloutsLine(r: HubStatus["rollouts"]): string {
  if (r.running === 0 && r.paused.length === 0) return "none under way";
  return `${r.running} running, ${r.paused.length} paused${r.paused.length ? " (kensa rollout show <id>)" : ""}`;
}

function trainingLine(t: HubStatus["training"]): string {
  if (t.running.length === 0 && t.queued === 0) return "idle";
  return `${t.running.length} running, ${t.queued} queued`;
}

/** `kensa status`: the hub at a glance; exit 2 when it answers degraded. */
export function registerStatusCommand(program: Command, hubOpts: HubOpts): void {
  hubOpts(
    program
      .command("status")
      .description(
        `the hub at a glance: health, devices, ingest, training, rollouts, champions (exit ${DEGRADED_EXIT}: degraded; a paused rollout is shown, not degraded)`,
      )
      .option("--json", "print JSON"),
  ).action(async (o: StatusFlags) => {
    const client = hubClientFrom(o);
    const status = await readStatus(client, lastTokenSource()?.hubUrl ?? "");
    console.log(o.json ? JSON.stringify(status, null, 2) : formatStatus(status));
    if (status.health.status !== "ok") process.exitCode = DEGRADED_EXIT;
  });
}
