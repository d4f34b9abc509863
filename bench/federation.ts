/**
 * Site ⇄ central catch-up: a site hub whose uplink was down for an hour at the demo's event rate
 * (2 cameras × 2 fps × 30 % defects ≈ 1.2 incidents/s, each answered by the reviewer: 4,320
 * incidents and 4,320 verdicts) gets its link back; how long until central holds every one.
 * Two real hubs (SQLite, embedded brokers) on this machine, the link a local TCP proxy: this
 * measures the hubs' side of the sync, not a WAN's latency or bandwidth.
 */
import { randomBytes } from "node:crypto";
import { KensaClient } from "@kensa/client";
import { federationRoutes, projectRoutes } from "@kensa/contracts";
import { createHub } from "@kensa/hub";
import { tempDir, waitFor } from "@kensa/testkit";
import sharp from "sharp";
import { UplinkProxy } from "../apps/hub/test/federation-fixtures.js";
import { table } from "./report.js";

/** offline hours at the demo rate; KENSA_BENCH_FEDERATION_HOURS changes it */
const HOURS = Number(process.env.KENSA_BENCH_FEDERATION_HOURS ?? 1);
const RATE = 2 * 2 * 0.3;

async function startHub(dataDir: string, federation: Record<string, unknown>) {
  const hub = await createHub({
    dataDir,
    http: { host: "127.0.0.1", port: 0 },
    mqtt: { embedded: { enabled: true, host: "127.0.0.1", port: 0 } },
    logLevel: "warn",
    federation,
  });
  return { hub, ...(await hub.start()) };
}

async function catchUp(frames: boolean) {
  const n = Math.round(HOURS * 3600 * RATE);
  const dir = await tempDir("kensa-bench-federation-");
  const central = await startHub(`${dir.path}/central`, { settleMs: 1000 });
  const proxy = new UplinkProxy(Number(new URL(central.httpUrl).port));
  let site: Awaited<ReturnType<typeof startHub>> | undefined;
  try {
    const api = new KensaClient({ baseUrl: central.httpUrl, auth: { kind: "bearer", token: central.hub.adminToken } });
    const project = {
      slug: "bench",
      name: "Bench",
      task: "classification" as const,
      labels: ["ok", "defect"],
      okLabels: ["ok"],
    };
    await api.call(projectRoutes.create, { body: project });
    const { token } = await api.call(federationRoutes.createSite, {
      body: { id: "bench-site", name: "Bench site", projects: ["bench"] },
    });
    // the uplink is down (proxy never opened on this port) while the hour accumulates
    await proxy.open();
    await proxy.cut();
    site = await startHub(`${dir.path}/site`, {
      central: { url: proxy.url, siteId: "bench-site", token },
      intervalSeconds: 1,
      maxBackoffSeconds: 1,
      settleMs: 1000,
      upstream: { frames },
    });
    const siteApi = new KensaClient({ baseUrl: site.httpUrl, auth: { kind: "bearer", token: site.hub.adminToken } });
    const projectId = (await siteApi.call(projectRoutes.create, { body: project })).id;
    const frameBytes = frames ? await seedFrames(site.hub, 16) : [];
    await seed(site.hub, projectId, n, frameBytes);

    const t0 = performance.now();
    await proxy.open();
    const db = central.hub.store.db;
    await waitFor(
      "central holds every incident and verdict",
      async () => {
        const i = await db
          .selectFrom("incidents")
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .where("site_id", "=", "bench-site")
          .executeTakeFirstOrThrow();
        const v = await db
          .selectFrom("verdicts")
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .executeTakeFirstOrThrow();
        return Number(i.n) === n && Number(v.n) === n;
      },
      { timeoutMs: 1_800_000, intervalMs: 100 },
    );
    const ms = performance.now() - t0;
    return { n, frames, ms: Math.round(ms), perSecond: Math.round((2 * n * 1000) / ms) };
  } finally {
    await site?.hub.close();
    await proxy.cut();
    await central.hub.close();
    await dir.remove();
  }
}

/** a few distinct 320×240 JPEGs stored on the site (incident frames), reused round-robin */
async function seedFrames(hub: Awaited<ReturnType<typeof createHub>>, count: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const raw = randomBytes(320 * 240 * 3);
    const jpeg = await sharp(raw, { raw: { width: 320, height: 240, channels: 3 } })
      .jpeg({ quality: 80 })
      .toBuffer();
    out.push((await hub.blobs.put(jpeg)).sha256);
  }
  return out;
}

/** what an hour of ingest and review leaves: `n` incidents over the past hours, each with a verdict */
async function seed(hub: Awaited<ReturnType<typeof createHub>>, projectId: string, n: number, frames: string[]) {
  const db = hub.store.db;
  const start = Date.now() - HOURS * 3_600_000 - 60_000;
  for (let k = 0; k < n; k += 250) {
    const incidents = [];
    const verdicts = [];
    for (let j = k; j < Math.min(n, k + 250); j++) {
      const at = new Date(start + Math.round(j / RATE) * 1000 + (j % 1000)).toISOString();
      const id = `inc_bench_${j.toString().padStart(6, "0")}`;
      incidents.push({
        id,
        project_id: projectId,
        device_id: `cam-${j % 2}`,
        event_id: `evt-bench-${j}`,
        status: "confirmed",
        label: "defect",
        score: 0.9,
        rule: "threshold: defect ≥ 0.50",
        model_version_id: "mdl_bench",
        bundle_sha256: "b".repeat(64),
        frame_meta: "{}",
        media_sha256: frames.length ? frames[j % frames.length]! : null,
        created_at: at,
        acknowledged_by: null,
        acknowledged_at: null,
        clip_sha256: null,
        clip_content_type: null,
        clip_size: null,
        clip_duration_ms: null,
      });
      verdicts.push({
        id: `vrd_bench_${j}`,
        incident_id: id,
        verdict: "confirmed",
        labels: '["defect"]',
        note: null,
        decided_by: "reviewer",
        created_at: new Date(Date.parse(at) + 5000).toISOString(),
      });
    }
    await db.insertInto("incidents").values(incidents).execute();
    await db.insertInto("verdicts").values(verdicts).execute();
  }
}

export async function federationSection() {
  const rows = [await catchUp(false), await catchUp(true)];
  const markdown = [
    `A site hub offline for ${HOURS} h at the demo's rate (≈${RATE} incidents/s, each with a verdict),`,
    "then its uplink back: time until central holds every incident and verdict (batches of 200,",
    "sync every 1 s). With frames, each incident's 320×240 JPEG goes up first (16 distinct frames,",
    "so central stores each once but the site uploads every one). Both hubs on this machine, SQLite.",
    "",
    table(
      ["incidents", "verdicts", "frames", "catch-up ms", "items/s"],
      rows.map((r) => [r.n, r.n, r.frames ? "yes" : "no", r.ms, r.perSecond]),
    ),
  ].join("\n");
  return { markdown, data: rows };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { markdown } = await federationSection();
  console.log(markdown);
}
