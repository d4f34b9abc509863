import { readFile } from "node:fs/promises";
import { KensaError } from "@kensa/contracts";
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { Kysely } from "kysely";
import type { BlobStore } from "../blobstore/blob-store.js";
import type { HubConfig } from "../config.js";
import type { HubDatabase } from "../db/schema.js";
import type { AuditLog } from "../people/audit-log.js";
import type { ProjectService } from "../projects/project-service.js";
import type { ModelService } from "../registry/model-service.js";
import type { RegistryService } from "../registry/registry-service.js";
import type { RolloutService } from "../rollouts/rollout-service.js";
import { CentralClient } from "./central-client.js";
import { CentralIntake } from "./central-intake.js";
import { CentralRollouts } from "./central-rollouts.js";
import { CentralSamples } from "./central-samples.js";
import { CursorStore } from "./cursor-store.js";
import { federationRoutes } from "./federation-routes.js";
import { initialStatus } from "./federation-status.js";
import type { Federation } from "./federation-types.js";
import { SiteDownstream } from "./site-downstream.js";
import { SiteRegistry } from "./site-registry.js";
import { SiteRolloutCommands } from "./site-rollout-commands.js";
import { SiteRollouts } from "./site-rollouts.js";
import { SiteSamples } from "./site-samples.js";
import { SiteSync } from "./site-sync.js";
import { SiteUpstream } from "./site-upstream.js";

export type { Federation };

export interface FederationDeps {
  config: HubConfig;
  env: Record<string, string | undefined>;
  db: Kysely<HubDatabase>;
  blobs: BlobStore;
  projects: ProjectService;
  models: ModelService;
  training: { registry: RegistryService };
  /** the site's rollout service, which runs the rollouts central asks of a site */
  rollouts: RolloutService;
  audit: AuditLog;
  log: FastifyBaseLogger;
}

export async function createFederation(d: FederationDeps): Promise<Federation> {
  const f = d.config.federation;
  const sites = new SiteRegistry(d.db);
  const intake = new CentralIntake(d.db, d.blobs, f.settleMs);
  let sync: SiteSync | null = null;
  if (f.central) {
    const token = await siteToken(f.central, d.env);
    const central = new CentralClient({ url: f.central.url, token, siteId: f.central.siteId, timeoutMs: f.timeoutMs });
    const cursors = new CursorStore(d.db);
    const down = new SiteDownstream({ ...d, registry: d.training.registry, central, cursors });
    sync = new SiteSync({
      up: new SiteUpstream({
        db: d.db,
        blobs: d.blobs,
        central,
        cursors,
        options: { batch: f.batch, settleMs: f.settleMs, ...f.upstream },
      }),
      samples: f.upstream.samples
        ? new SiteSamples({
            db: d.db,
            blobs: d.blobs,
            central,
            cursors,
            // a sample carries its label (boxes, masks by hash): smaller batches keep a
            // push under central's JSON body limit (limits.jsonBodyBytes, 1 MiB by default)
            options: { batch: Math.min(f.batch, 50), settleMs: f.settleMs, frameWaitMs: f.upstream.frameWaitMs },
          })
        : null,
      down,
      rollouts: new SiteRollouts({
        ...d,
        registry: d.training.registry,
        central,
        cursors,
        downstream: down,
        batch: f.batch,
        settleMs: f.settleMs,
      }),
      commands: new SiteRolloutCommands({ ...d, central, cursors, batch: f.batch, settleMs: f.settleMs }),
      config: f,
      centralUrl: central.url,
      siteId: f.central.siteId,
      log: d.log,
      abort: () => central.abort(),
    });
  }
  const standalone = initialStatus("standalone", null, null);
  return {
    sites,
    intake,
    samples: new CentralSamples(d.db, d.blobs),
    siteRollouts: new CentralRollouts(d.db, f.settleMs),
    sync,
    status: () => sync?.status ?? standalone,
    problems: () => sync?.problems() ?? [],
  };
}

/** `token`, else `tokenFile`, else env KENSA_SITE_TOKEN; checked before the hub starts. */
async function siteToken(
  central: NonNullable<HubConfig["federation"]["central"]>,
  env: Record<string, string | undefined>,
): Promise<string> {
  let token = central.token ?? env.KENSA_SITE_TOKEN;
  if (central.tokenFile) {
    try {
      token = (await readFile(central.tokenFile, "utf8")).trim();
    } catch (err) {
      throw new KensaError(
        "KENSA_ERR_CONFIG_INVALID",
        `hub config is invalid: /federation/central/tokenFile: cannot read ${central.tokenFile}: ${(err as Error).message}`,
      );
    }
  }
  if (!token?.startsWith("kensa_site_")) {
    const message = "a site token (kensa_site_…) is required: token, tokenFile or env KENSA_SITE_TOKEN";
    throw new KensaError("KENSA_ERR_CONFIG_INVALID", `hub config is invalid: /federation/central: ${message}`, {
      issues: [{ path: "/federation/central/tokenFile", message }],
    });
  }
  return token;
}

/** Sites, the routes they call, and a site's sync loop (started once the hub listens, stopped as it closes). */
export const federationPlugin = fp<{ federation: Federation; audit: AuditLog; frameBytes: number }>(
  async (app: FastifyInstance, opts) => {
    federationRoutes(app, opts);
    const { sync } = opts.federation;
    if (!sync) return;
    app.addHook("onReady", async () => sync.start());
    app.addHook("onClose", async () => sync.stop());
  },
  { name: "kensa-federation", dependencies: ["kensa-http"], fastify: "5.x" },
);

/** The one call hub.ts makes: builds the federation and registers its plugin. */
export async function registerFederation(app: FastifyInstance, deps: FederationDeps): Promise<Federation> {
  const federation = await createFederation(deps);
  const frameBytes = deps.config.limits.mediaBytes;
  await app.register(federationPlugin, { federation, audit: deps.audit, frameBytes });
  return federation;
}
