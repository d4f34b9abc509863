import { mkdir, symlink, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { type TempDir, tempDir } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHub, type TestHub } from "./helpers.js";

// Serving the console touches no database, so one backend is enough here.

const INDEX = "<!doctype html><title>Kensa console</title><div id=root></div>";
const SCRIPT = "console.log('kensa');";
const SECRET = "top-secret-outside-the-console";

/** A GET with the path sent byte for byte (fetch would fold "..", which is what we test). */
function rawGet(
  baseUrl: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: "GET", headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

describe("serving the web console", () => {
  let dir: TempDir;
  let t: TestHub;

  beforeAll(async () => {
    dir = await tempDir("kensa-console-");
    const dist = join(dir.path, "dist");
    await mkdir(join(dist, "assets"), { recursive: true });
    await writeFile(join(dist, "index.html"), INDEX);
    await writeFile(join(dist, "assets", "index-B3xq9Kd2.js"), SCRIPT);
    await writeFile(join(dist, "favicon.ico"), Buffer.from([0, 0, 1, 0]));
    await writeFile(join(dir.path, "secret.txt"), SECRET);
    await symlink(join(dir.path, "secret.txt"), join(dist, "link.txt"));
    t = await startHub({ web: { dir: dist } });
  });
  afterAll(async () => {
    await t.close();
    await dir.remove();
  });

  it("serves index.html at / and its files with their types and cache rules", async () => {
    const home = await rawGet(t.httpUrl, "/", { accept: "text/html" });
    expect(home.status).toBe(200);
    expect(home.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(home.headers["cache-control"]).toBe("no-cache");
    expect(home.body).toBe(INDEX);

    const script = await rawGet(t.httpUrl, "/assets/index-B3xq9Kd2.js");
    expect(script.status).toBe(200);
    expect(script.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(script.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(script.headers["x-content-type-options"]).toBe("nosniff");
    expect(script.body).toBe(SCRIPT);

    const icon = await rawGet(t.httpUrl, "/favicon.ico");
    expect(icon.headers["content-type"]).toBe("image/x-icon");
    expect(icon.headers["cache-control"]).toBe("no-cache");
  });

  it("answers client-side routes with index.html, but not missing files or API paths", async () => {
    for (const path of ["/incidents/inc_123", "/devices/cam-1?tab=frames", "/settings/users/"]) {
      const r = await rawGet(t.httpUrl, path, { accept: "text/html,application/xhtml+xml" });
      expect(r.status, path).toBe(200);
      expect(r.body, path).toBe(INDEX);
      expect(r.headers["cache-control"]).toBe("no-cache");
    }
    expect((await rawGet(t.httpUrl, "/incidents/inc_123")).body).toBe(INDEX);
    const missing = await rawGet(t.httpUrl, "/assets/index-gone.js", { accept: "*/*" });
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toMatchObject({ error: { code: "KENSA_ERR_NOT_FOUND" } });
    const api = await rawGet(t.httpUrl, "/api/v1/nothing-here", { accept: "text/html" });
    expect(api.status).toBe(404);
    expect(JSON.parse(api.body)).toMatchObject({ error: { code: "KENSA_ERR_NOT_FOUND" } });
    expect((await rawGet(t.httpUrl, "/health")).body).toContain('"status":"ok"');
  });

  it("refuses paths that climb out of the console folder, encoded or through a link", async () => {
    for (const path of [
      "/../secret.txt",
      "/%2e%2e/secret.txt",
      "/..%2fsecret.txt",
      "/%2e%2e%2fsecret.txt",
      "/assets/..%2f..%2fsecret.txt",
      "/assets/../../secret.txt",
      "/link.txt",
      "/index.html%00.js",
    ]) {
      const r = await rawGet(t.httpUrl, path, { accept: "text/html" });
      expect(r.status, path).toBe(404);
      expect(r.body, path).not.toContain(SECRET);
    }
    // a malformed escape never reaches the handler: the router refuses it
    expect((await rawGet(t.httpUrl, "/%E0%A4%A", { accept: "text/html" })).status).toBe(400);
  });

  it("explains how to build the console when it is not built", async () => {
    const bare = await startHub({ web: { dir: join(dir.path, "not-built") } });
    try {
      for (const path of ["/", "/incidents/inc_1"]) {
        const r = await rawGet(bare.httpUrl, path, { accept: "text/html" });
        expect(r.status).toBe(200);
        expect(r.headers["content-type"]).toBe("text/html; charset=utf-8");
        expect(r.body).toContain("the web console is not built");
        expect(r.body).toContain("npm run build -w @kensa/web");
      }
    } finally {
      await bare.close();
    }
  });
});
