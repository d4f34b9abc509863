import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Deployment, type Desired, type ModelVersion, topics } from "@kensa/contracts";
import { buildBlemishModel } from "@kensa/vision/graph";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { basic, connectDevice, nextMessage, seed, startHub, type TestHub } from "./helpers.js";

const model = buildBlemishModel();
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** The bundle and blob routes as a resuming downloader uses them: Range, 206, 416, If-Range. */
describe("bundle and model downloads: Range, If-Range, ETag", () => {
  let t: TestHub;
  let auth: string;
  let v1: ModelVersion;
  let bundleSha: string;
  let bundleBytes: Buffer;
  let spreadOne: number | undefined;
  let secrets: Record<string, string>;
  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${t.httpUrl}${path}`, { headers: { authorization: auth, ...headers } });

  beforeAll(async () => {
    // 2 devices a second: a publish to one device spreads over 0.5 s, to four over 2 s
    t = await startHub({ rollout: { startsPerSecond: 2, maxSpreadSeconds: 1.5 } });
    const seeded = await seed(t.call, "dl", [
      { id: "dl-1" },
      { id: "dl-2", tags: ["many"] },
      { id: "dl-3", tags: ["many"] },
      { id: "dl-4", tags: ["many"] },
      { id: "dl-5", tags: ["many"] },
    ]);
    secrets = seeded.secrets;
    const projectId = seeded.projectId;
    auth = basic("dl-1", secrets["dl-1"]!);
    const form = new FormData();
    form.set("projectId", projectId);
    form.set("manifest", JSON.stringify(model.manifest));
    form.set("model", new Blob([model.onnx as BlobPart]), "m.onnx");
    v1 = (await t.call<ModelVersion>("POST", "/api/v1/models", { raw: form })).json;
    const d = await t.call<Deployment>("POST", "/api/v1/deployments", {
      body: { modelVersionId: v1.id, target: { deviceIds: ["dl-1"] } },
    });
    bundleSha = d.json.bundleSha256;
    bundleBytes = Buffer.from(await (await get(`/api/v1/bundles/${bundleSha}`)).arrayBuffer());
    spreadOne = (await desiredOf("dl-1", secrets["dl-1"]!)).pipelines[0]?.bundle?.spreadMs;
    await t.call("POST", "/api/v1/deployments", { body: { modelVersionId: v1.id, target: { tags: ["many"] } } });
  });
  afterAll(async () => {
    await t?.close();
  });

  async function desiredOf(id: string, secret: string): Promise<Desired> {
    const c = await connectDevice(t.mqttUrl, id, secret);
    try {
      const msg = nextMessage(c, topics.desired(id));
      await c.subscribeAsync(topics.desired(id), { qos: 1 });
      return JSON.parse((await msg).payload.toString()) as Desired;
    } finally {
      await c.endAsync(true);
    }
  }

  it("answers a whole download with its sha256 as a strong ETag and Accept-Ranges", async () => {
    for (const [path, want] of [
      [`/api/v1/blobs/${v1.sha256}`, model.onnx],
      [`/api/v1/bundles/${bundleSha}`, bundleBytes],
    ] as const) {
      const res = await get(path);
      expect(res.status).toBe(200);
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.equals(Buffer.from(want))).toBe(true);
      expect(res.headers.get("etag")).toBe(`"${sha(body)}"`);
      expect(res.headers.get("accept-ranges")).toBe("bytes");
      expect(res.headers.get("content-length")).toBe(String(body.length));
      expect(res.headers.get("content-encoding")).toBeNull();
    }
    expect(sha(bundleBytes)).toBe(bundleSha);
  });

  it("serves one byte range as 206 with Content-Range, open-ended and suffix forms too", async () => {
    const size = model.onnx.byteLength;
    const cases: Array<[string, number, number]> = [
      ["bytes=10-99", 10, 99],
      [`bytes=${size - 100}-`, size - 100, size - 1],
      ["bytes=-64", size - 64, size - 1],
      // past the end is clipped to it
      [`bytes=${size - 5}-${size + 1000}`, size - 5, size - 1],
    ];
    for (const [range, start, end] of cases) {
      const res = await get(`/api/v1/blobs/${v1.sha256}`, { range });
      expect(res.status, range).toBe(206);
      expect(res.headers.get("content-range")).toBe(`bytes ${start}-${end}/${size}`);
      expect(res.headers.get("etag")).toBe(`"${v1.sha256}"`);
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.equals(Buffer.from(model.onnx.subarray(start, end + 1)))).toBe(true);
    }
    const part = await get(`/api/v1/bundles/${bundleSha}`, { range: "bytes=5-" });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer()).equals(bundleBytes.subarray(5))).toBe(true);
  });

  it("answers 416 with the size for a range past the end; malformed and multi-part ranges get it whole", async () => {
    const size = model.onnx.byteLength;
    const res = await get(`/api/v1/blobs/${v1.sha256}`, { range: `bytes=${size}-` });
    expect(res.status).toBe(416);
    expect(res.headers.get("content-range")).toBe(`bytes */${size}`);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("KENSA_ERR_RANGE_NOT_SATISFIABLE");
    for (const range of ["bytes=abc", "items=0-5", "bytes=0-5,10-20"]) {
      const whole = await get(`/api/v1/blobs/${v1.sha256}`, { range });
      expect(whole.status, range).toBe(200);
      expect((await whole.arrayBuffer()).byteLength).toBe(size);
    }
  });

  it("honours Range only while If-Range names this content", async () => {
    const match = await get(`/api/v1/blobs/${v1.sha256}`, { range: "bytes=100-", "if-range": `"${v1.sha256}"` });
    expect(match.status).toBe(206);
    expect((await match.arrayBuffer()).byteLength).toBe(model.onnx.byteLength - 100);
    for (const ifRange of [`"${"0".repeat(64)}"`, `W/"${v1.sha256}"`, "Mon, 07 Dec 2026 00:00:00 GMT"]) {
      const other = await get(`/api/v1/blobs/${v1.sha256}`, { range: "bytes=100-", "if-range": ifRange });
      expect(other.status, ifRange).toBe(200);
      expect((await other.arrayBuffer()).byteLength).toBe(model.onnx.byteLength);
    }
  });

  it("keeps access rules on ranged reads: another device's project or no credentials get nothing", async () => {
    const other = await seed(t.call, "other-dl", [{ id: "od-1" }]);
    const res = await fetch(`${t.httpUrl}/api/v1/blobs/${v1.sha256}`, {
      headers: { authorization: basic("od-1", other.secrets["od-1"]!), range: "bytes=0-9" },
    });
    expect(res.status).toBe(404);
    expect((await fetch(`${t.httpUrl}/api/v1/blobs/${v1.sha256}`, { headers: { range: "bytes=0-9" } })).status).toBe(
      401,
    );
  });

  it("spreads a rollout's start over a window that grows with the devices a publish reaches", async () => {
    // one device: 1 / 2 s = 500 ms; four devices: 2 s, capped at maxSpreadSeconds (1.5 s)
    expect(spreadOne).toBe(500);
    for (const id of ["dl-2", "dl-5"]) {
      expect((await desiredOf(id, secrets[id]!)).pipelines[0]?.bundle?.spreadMs).toBe(1500);
    }
  });

  it("never serves a ranged read of content that no longer matches its sha256", async () => {
    const file = join(t.dir.path, "blobs", "sha256", v1.sha256.slice(0, 2), v1.sha256);
    const bytes = await readFile(file);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    // same size, new modification time: the remembered verification no longer applies
    await writeFile(file, bytes);
    const res = await get(`/api/v1/blobs/${v1.sha256}`, { range: "bytes=0-9" });
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("KENSA_ERR_BLOB_CORRUPT");
    // quarantined: gone from its address
    expect((await get(`/api/v1/blobs/${v1.sha256}`)).status).toBe(404);
  });
});
