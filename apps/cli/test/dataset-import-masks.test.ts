import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { queryString } from "@kensa/contracts";
import { createHub, type Hub } from "@kensa/hub";
import { type TempDir, tempDir } from "@kensa/testkit";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kensa } from "./run-kensa.js";

const ADMIN = "cli-import-masks-admin-token-0123456789";

/**
 * `--mask-suffix ''` (a mask with the image's own stem, `x.jpg` + `x.png`, magnetic-tile style)
 * must reach the hub as an empty suffix: a client that dropped empty query values sent the
 * default `_mask` instead, and every mask PNG was imported as one more image.
 */
describe("kensa dataset import --mask-suffix ''", () => {
  let dir: TempDir;
  let hub: Hub;
  let httpUrl: string;

  beforeAll(async () => {
    dir = await tempDir();
    hub = await createHub({
      dataDir: join(dir.path, "hub"),
      adminToken: ADMIN,
      http: { port: 0 },
      mqtt: { embedded: { port: 0 } },
      logLevel: "silent",
    });
    ({ httpUrl } = await hub.start());
    const created = await hub.app.inject({
      method: "POST",
      url: "/api/v1/projects",
      headers: { authorization: `Bearer ${ADMIN}` },
      payload: {
        slug: "tiles",
        name: "Tiles",
        task: "segmentation",
        labels: ["background", "crack"],
        okLabels: ["background"],
      },
    });
    expect(created.statusCode).toBe(201);
    for (const [cls, n] of [
      ["crack", 3],
      ["background", 2],
    ] as const) {
      const folder = join(dir.path, "set", cls, "Imgs");
      await mkdir(folder, { recursive: true });
      for (let i = 0; i < n; i++) {
        // distinct images: the hub keeps one sample per image content
        const grey = cls === "crack" ? 40 + i * 30 : 150 + i * 30;
        const img = sharp({
          create: { width: 32, height: 24, channels: 3, background: { r: grey, g: grey, b: grey } },
        });
        await img.jpeg().toFile(join(folder, `tile_${i}.jpg`));
        const mask = Buffer.alloc(32 * 24, 0);
        if (cls === "crack") mask.fill(255, 32 * 10, 32 * 12);
        await sharp(mask, { raw: { width: 32, height: 24, channels: 1 } })
          .png()
          .toFile(join(folder, `tile_${i}.png`));
      }
    }
  }, 60_000);

  afterAll(async () => {
    await hub?.close();
    await dir?.remove();
  });

  it("keeps an empty value in the query string", () => {
    expect(queryString({ maskSuffix: "", format: "imagefolder", gone: undefined })).toBe(
      "?maskSuffix=&format=imagefolder",
    );
  });

  it("pairs x.jpg with x.png as its mask: five samples, not ten", async () => {
    const run = await kensa(
      { KENSA_HUB_URL: httpUrl, KENSA_ADMIN_TOKEN: ADMIN },
      ...["dataset", "import", join(dir.path, "set"), "--format", "imagefolder", "--mask-suffix", ""],
      ...["--class-map", "crack=crack,background=background", "--project", "tiles", "--json"],
    );
    expect(run.status, run.stderr).toBe(0);
    const job = JSON.parse(run.stdout) as { options: { maskSuffix: string }; result: { ok: number } };
    expect(job.options.maskSuffix).toBe("");
    expect(job.result.ok, run.stdout).toBe(5);
    const stats = await hub.app.inject({
      method: "GET",
      url: `/api/v1/projects/${(await hub.app.inject({ method: "GET", url: "/api/v1/projects", headers: { authorization: `Bearer ${ADMIN}` } })).json().items[0].id}/samples?limit=50`,
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    const items = stats.json().items as Array<{ label: { content: { objects: Array<{ mask?: string }> } } | null }>;
    expect(items).toHaveLength(5);
    expect(items.filter((s) => s.label?.content.objects.some((o) => o.mask)).length).toBe(3);
  });
});
