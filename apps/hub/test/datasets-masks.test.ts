import type { MaskUploaded, SampleWithHistory } from "@kensa/contracts";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectBody, startHub, type TestHub } from "./helpers.js";

const mask = (w: number, h: number) => {
  const px = Buffer.alloc(w * h);
  for (let y = 4; y < 12; y++) px.fill(255, y * w + 4, y * w + 12);
  return sharp(px, { raw: { width: w, height: h, channels: 1 } })
    .png()
    .toBuffer();
};

/** Masks drawn in the console: uploaded, named by a revision, read back by labelers only then. */
describe("mask uploads and reads", () => {
  let t: TestHub;
  let sampleId: string;
  let labeler: string;

  beforeAll(async () => {
    t = await startHub();
    const p = await t.call<{ id: string }>("POST", "/api/v1/projects", {
      body: projectBody("masks", { task: "segmentation", labels: ["background", "defect"], okLabels: ["background"] }),
    });
    const img = await sharp({ create: { width: 32, height: 24, channels: 3, background: "#777" } })
      .jpeg()
      .toBuffer();
    const s = await t.call<{ id: string }>("POST", `/api/v1/projects/${p.json.id}/samples`, {
      headers: { "content-type": "image/jpeg" },
      raw: img,
    });
    sampleId = s.json.id;
    const u = await t.call<{ id: string }>("POST", "/api/v1/users", {
      body: { username: "lena", displayName: "Lena", role: "labeler", password: "correct horse battery" },
    });
    const tok = await t.call<{ token: string }>("POST", `/api/v1/users/${u.json.id}/tokens`, { body: { name: "t" } });
    labeler = `Bearer ${tok.json.token}`;
  });
  afterAll(() => t?.close());

  const upload = async (png: Buffer) => {
    const form = new FormData();
    form.set("mask", new Blob([png as Uint8Array<ArrayBuffer>], { type: "image/png" }), "mask.png");
    return t.call<MaskUploaded>("POST", `/api/v1/samples/${sampleId}/masks`, { auth: labeler, raw: form });
  };

  it("stores a mask of the image's size and serves it once a revision names it", async () => {
    const up = await upload(await mask(32, 24));
    expect(up.status).toBe(201);
    expect(up.json).toMatchObject({ width: 32, height: 24 });
    // not yet named by any revision: not served, so the route never leaks other blobs
    expect((await t.call("GET", `/api/v1/masks/${up.json.sha256}`, { auth: labeler })).status).toBe(404);
    const rev = await t.call<SampleWithHistory>("POST", `/api/v1/samples/${sampleId}/labels`, {
      auth: labeler,
      body: { content: { classes: ["defect"], objects: [{ label: "defect", mask: up.json.sha256 }] } },
    });
    expect(rev.status).toBe(201);
    const got = await fetch(`${t.httpUrl}/api/v1/masks/${up.json.sha256}`, { headers: { authorization: labeler } });
    expect(got.status).toBe(200);
    const meta = await sharp(Buffer.from(await got.arrayBuffer())).metadata();
    expect([meta.width, meta.height]).toEqual([32, 24]);
  });

  it("refuses a mask of another size, a non-PNG and a missing part", async () => {
    expect((await upload(await mask(16, 16))).json).toMatchObject({ error: { code: "KENSA_ERR_MEDIA_INVALID" } });
    expect((await upload(Buffer.from("not a png"))).json).toMatchObject({ error: { code: "KENSA_ERR_MEDIA_INVALID" } });
    const empty = await t.call("POST", `/api/v1/samples/${sampleId}/masks`, { auth: labeler, raw: new FormData() });
    expect(empty.status).toBe(400);
  });
});
