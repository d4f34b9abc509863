import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { imageDecodeStats } from "../src/limits/image-gate.js";
import { Semaphore } from "../src/limits/semaphore.js";
import { createProject, importArchive, pack } from "./datasets-fixtures.js";
import { startHub, type TestHub } from "./helpers.js";

/** A 16000 × 16000 PNG of one grey: ≈ 800 KB on the wire, 768 MB once decoded to RGB. */
async function pngBomb(): Promise<Buffer> {
  const tiny = await sharp({ create: { width: 1, height: 1, channels: 3, background: "#808080" } })
    .png()
    .toBuffer();
  return sharp(tiny)
    .resize(16000, 16000, { kernel: "nearest" })
    .png({ compressionLevel: 6, adaptiveFiltering: false })
    .toBuffer();
}

/** a photo-like (incompressible) JPEG, so decoding it takes real time */
async function noiseJpeg(width: number, height: number, seed: number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  let x = seed * 2654435761;
  for (let i = 0; i < raw.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    raw[i] = x >>> 24;
  }
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

describe("Semaphore", () => {
  it("runs at most its size at once, in arrival order, and frees a slot when a holder fails", async () => {
    const s = new Semaphore(2);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const job = (i: number) =>
      s.run(async () => {
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 10));
        running--;
        order.push(i);
        if (i === 1) throw new Error("boom");
        return i;
      });
    const results = await Promise.allSettled([0, 1, 2, 3, 4, 5].map(job));
    expect(most).toBe(2);
    expect(results.filter((r) => r.status === "rejected")).toHaveLength(1);
    expect(order.slice(0, 2).sort()).toEqual([0, 1]);
    expect(s.waiting).toBe(0);
  });
});

describe("image uploads under the pixel budget and the decode gate", () => {
  let t: TestHub;
  let bomb: Buffer;
  let projectId: string;

  beforeAll(async () => {
    bomb = await pngBomb();
    t = await startHub({ limits: { imageDecodes: 1 } });
    projectId = await createProject(t.call, "limits-img", "classification", ["ok", "scratch"], ["ok"]);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  const upload = (bytes: Buffer, type = "image/png") =>
    t.call<{ error?: { code: string; message: string } }>("POST", `/api/v1/projects/${projectId}/samples`, {
      headers: { "content-type": type },
      raw: bytes,
    });

  it("refuses four concurrent 16000 × 16000 PNG bombs by their header, decoding none", async () => {
    expect(bomb.length).toBeLessThan(2 * 1024 * 1024);
    const before = imageDecodeStats();
    const rssBefore = process.memoryUsage().rss;
    const replies = await Promise.all([1, 2, 3, 4].map(() => upload(bomb)));
    for (const r of replies) {
      expect(r.status).toBe(413);
      expect(r.json.error?.code).toBe("KENSA_ERR_IMAGE_TOO_LARGE");
      expect(r.json.error?.message).toMatch(/16000 × 16000/);
    }
    // one decode would hold 768 MB: the hub's memory did not move by a fraction of that
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(150 * 1024 * 1024);
    expect(imageDecodeStats().peak).toBe(before.peak);
    const metrics = await (
      await fetch(`${t.httpUrl}/metrics`, { headers: { authorization: `Bearer ${t.hub.adminToken}` } })
    ).text();
    expect(metrics).toMatch(/kensa_limit_refusals_total\{limit="image_pixels"\} [4-9]/);
  });

  it("refuses the bomb as an event frame too", async () => {
    const r = await t.call<{ error?: { code: string } }>("PUT", "/api/v1/events/evt-bomb-0001/media", {
      headers: { "content-type": "image/png" },
      raw: bomb,
    });
    expect(r.status).toBe(413);
    expect(r.json.error?.code).toBe("KENSA_ERR_IMAGE_TOO_LARGE");
  });

  it("refuses the bomb as a sample's mask, before decoding it", async () => {
    const sample = await upload(await noiseJpeg(64, 48, 5), "image/jpeg");
    expect(sample.status).toBe(201);
    const form = new FormData();
    form.set("mask", new Blob([bomb as Uint8Array<ArrayBuffer>], { type: "image/png" }), "mask.png");
    const r = await t.call<{ error?: { code: string } }>(
      "POST",
      `/api/v1/samples/${(sample.json as { id: string }).id}/masks`,
      { raw: form },
    );
    expect(r.status).toBe(413);
    expect(r.json.error?.code).toBe("KENSA_ERR_IMAGE_TOO_LARGE");
  });

  it("decodes concurrent uploads one at a time (limits.imageDecodes = 1), all of them accepted", async () => {
    const images = await Promise.all([1, 2, 3, 4].map((i) => noiseJpeg(1600, 1200, i)));
    const replies = await Promise.all(images.map((img) => upload(img, "image/jpeg")));
    expect(replies.map((r) => r.status)).toEqual([201, 201, 201, 201]);
    const stats = imageDecodeStats();
    expect(stats.peak).toBe(1);
    // the uploads did arrive together: some waited for their turn
    expect(stats.peakWaiting).toBeGreaterThan(0);
    expect(stats.active).toBe(0);
  });

  it("fails a bomb inside a dataset archive as its own item, with the code, and imports the rest", async () => {
    const good = await noiseJpeg(64, 48, 9);
    const archive = pack(
      [
        { path: "ok/good.jpg", data: good },
        { path: "scratch/bomb.png", data: bomb },
      ],
      "zip",
    );
    const r = await importArchive(t.call, projectId, archive, { format: "imagefolder" });
    expect(r.json.status).toBe("succeeded");
    expect(r.json.result?.ok).toBe(1);
    expect(r.json.result?.failed).toEqual([
      expect.objectContaining({ item: "scratch/bomb.png", code: "KENSA_ERR_IMAGE_TOO_LARGE" }),
    ]);
  });
});
