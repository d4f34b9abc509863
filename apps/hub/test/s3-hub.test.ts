import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Deployment, ModelVersion } from "@kensa/contracts";
import { tempDir } from "@kensa/testkit";
import { buildBlemishModel } from "@kensa/vision/graph";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HubConfigInput } from "../src/config.js";
import { parseHubConfig } from "../src/config.js";
import { fsckOffline } from "../src/system/fsck-offline.js";
import { basic, seed, startHub, type TestHub } from "./helpers.js";
import { S3_CREDENTIALS, type S3Server, s3Store, startS3Server } from "./s3-fixture.js";

const BUCKET = "kensa-hub";
const model = buildBlemishModel();
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** A hub whose blobs live in an S3 bucket, handing devices presigned downloads. */
describe("hub on an S3 blob store", () => {
  let server: S3Server;
  let t: TestHub;
  let spool: { path: string; remove(): Promise<void> };
  let device: string;
  let other: string;
  let v1: ModelVersion;
  let bundleSha: string;
  let blobs: HubConfigInput["blobs"];

  beforeAll(async () => {
    server = await startS3Server([BUCKET]);
    spool = await tempDir("kensa-s3-hub-");
    const keyFile = join(spool.path, "s3-secret");
    await writeFile(keyFile, `${S3_CREDENTIALS.secretAccessKey}\n`, { mode: 0o600 });
    blobs = {
      kind: "s3",
      s3: {
        endpoint: server.endpoint,
        bucket: BUCKET,
        prefix: "hub/",
        forcePathStyle: true,
        accessKeyId: S3_CREDENTIALS.accessKeyId,
        secretAccessKeyFile: keyFile,
        presign: { enabled: true, ttlSeconds: 120 },
      },
    };
    t = await startHub({ blobs });
    const a = await seed(t.call, "s3a", [{ id: "s3-cam" }]);
    const b = await seed(t.call, "s3b", [{ id: "s3-other" }]);
    device = basic("s3-cam", a.secrets["s3-cam"]!);
    other = basic("s3-other", b.secrets["s3-other"]!);
    const form = new FormData();
    form.set("projectId", a.projectId);
    form.set("manifest", JSON.stringify(model.manifest));
    form.set("model", new Blob([model.onnx as BlobPart]), "m.onnx");
    v1 = (await t.call<ModelVersion>("POST", "/api/v1/models", { raw: form })).json;
    const d = await t.call<Deployment>("POST", "/api/v1/deployments", {
      body: { modelVersionId: v1.id, target: { deviceIds: ["s3-cam"] } },
    });
    bundleSha = d.json.bundleSha256;
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await server?.remove();
    await spool?.remove();
  });

  it("keeps models and bundles in the bucket under its prefix", async () => {
    const store = s3Store(server, BUCKET, "hub/", join(spool.path, "spool"));
    expect(await store.verify(v1.sha256, { quarantine: false })).toBe("ok");
    expect(await store.verify(bundleSha, { quarantine: false })).toBe("ok");
    expect(v1.sha256).toBe(sha(model.onnx));
  });

  it("redirects a device's model and bundle downloads to presigned GETs it can follow", async () => {
    for (const [path, want] of [
      [`/api/v1/blobs/${v1.sha256}`, v1.sha256],
      [`/api/v1/bundles/${bundleSha}`, bundleSha],
    ] as const) {
      const res = await fetch(`${t.httpUrl}${path}`, { headers: { authorization: device }, redirect: "manual" });
      expect(res.status).toBe(302);
      const location = new URL(res.headers.get("location")!);
      expect(location.origin).toBe(server.endpoint);
      expect(location.searchParams.get("X-Amz-Expires")).toBe("120");
      // followed as a device's fetch does: credentials are not sent to the other origin
      const followed = await fetch(`${t.httpUrl}${path}`, { headers: { authorization: device } });
      expect(followed.status).toBe(200);
      expect(sha(new Uint8Array(await followed.arrayBuffer()))).toBe(want);
    }
  });

  it("still refuses another project's device before any redirect", async () => {
    for (const path of [`/api/v1/blobs/${v1.sha256}`, `/api/v1/bundles/${bundleSha}`]) {
      const res = await fetch(`${t.httpUrl}${path}`, { headers: { authorization: other }, redirect: "manual" });
      expect(res.status).toBe(404);
      expect(res.headers.get("location")).toBeNull();
    }
  });

  it("is what `kensa hub fsck` checks, beside the running hub", async () => {
    const config = parseHubConfig({ dataDir: t.dir.path, blobs });
    const report = await fsckOffline(config, { repair: false, orphanGraceMs: 3_600_000 });
    expect(report.checked.blobs).toBeGreaterThanOrEqual(2);
    expect(report.corrupt).toEqual([]);
    expect(report.missing).toEqual([]);
  });
});
