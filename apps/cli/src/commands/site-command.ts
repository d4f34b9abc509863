import { federationRoutes, type Site, type SiteWithToken } from "@kensa/contracts";
import type { Command } from "commander";
import { hubClientFrom } from "../hub-client.js";
import { registerSiteRolloutCommands } from "./site-rollout-command.js";

interface HubFlags {
  hub?: string;
  token?: string;
  json?: boolean;
}

/**
 * `kensa site add|list|token|rollout|rollouts`, run against the central hub: the site hubs
 * federated to it (docs/operations.md, "Multi-site"). A site's token is printed once, with the
 * config lines the site hub needs.
 */
export function registerSiteCommands(program: Command, hubOpts: (cmd: Command) => Command): void {
  const site = program.command("site").description("site hubs federated to this central hub");

  hubOpts(
    site
      .command("add <id>")
      .description("register a site hub and the central projects it serves; prints its token once")
      .requiredOption("--name <name>", "a name people recognise (e.g. the plant)")
      .requiredOption("--projects <slugs>", "comma-separated project slugs the site serves", (v) =>
        v
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean),
      )
      .option("--json", "print the reply as JSON"),
  ).action(async (id: string, o: HubFlags & { name: string; projects: string[] }) => {
    const client = hubClientFrom(o);
    const out = await client.call(federationRoutes.createSite, { body: { id, name: o.name, projects: o.projects } });
    print(out, client.baseUrl, o.json);
  });

  hubOpts(
    site.command("list").description("sites, when each was last seen, and what it pushed").option("--json", "JSON"),
  ).action(async (o: HubFlags) => {
    const { items } = await hubClientFrom(o).call(federationRoutes.listSites, {});
    if (o.json) return console.log(JSON.stringify(items, null, 2));
    if (items.length === 0) return console.log("no sites (add one with `kensa site add`)");
    for (const s of items) console.log(describeSite(s));
  });

  hubOpts(
    site
      .command("token <id>")
      .description("issue a new token for a site; the old one stops working at once")
      .option("--json", "print the reply as JSON"),
  ).action(async (id: string, o: HubFlags) => {
    const client = hubClientFrom(o);
    print(await client.call(federationRoutes.rotateSiteToken, { params: { id } }), client.baseUrl, o.json);
  });

  registerSiteRolloutCommands(site, hubOpts);
}

function print(out: SiteWithToken, centralUrl: string, json: boolean | undefined): void {
  if (json) {
    console.log(JSON.stringify(out, null, 2));
    return;
  }
  console.log(`site ${out.site.id} (${out.site.name}) serves: ${out.site.projects.join(", ") || "no project"}`);
  console.log(`token (shown once): ${out.token}`);
  console.log("put the token in a file (mode 0600) on the site hub, and this in its config:");
  console.log(
    JSON.stringify(
      { federation: { central: { url: centralUrl, siteId: out.site.id, tokenFile: "/etc/kensa/site-token" } } },
      null,
      2,
    ),
  );
}

export function describeSite(s: Site): string {
  const fleet = s.fleet
    ? s.fleet.projects.map((p) => `${p.slug} ${p.devicesOnline}/${p.devicesTotal} online`).join(", ")
    : "no fleet summary yet";
  const line = `${s.id}  ${s.name}  projects: ${s.projects.join(",")}  last seen: ${s.lastSeenAt ?? "never"}  incidents: ${s.incidents}  verdicts: ${s.verdicts}  samples: ${s.samples}  fleet: ${fleet}`;
  return `${line}\n  ${describeField(s.field)}`;
}

/** One short line of a site's field figures: per project and model version, incidents and field precision. */
export function describeField(field: Site["field"]): string {
  if (!field) return "field: no field figures yet";
  const parts = field.projects.flatMap((p) =>
    p.models.map((m) => {
      const precision = m.precision === null ? "precision –" : `precision ${(m.precision * 100).toFixed(0)}%`;
      return `${p.slug}/${m.modelVersionId}: ${m.incidents} incidents, ${precision}`;
    }),
  );
  return `field (${field.windowDays} d): ${parts.join("; ") || "no incidents"}`;
}
