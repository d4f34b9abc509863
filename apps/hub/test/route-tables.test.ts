import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { API_REFERENCE_PREFIX, allRoutes } from "@kensa/contracts";
import { type TempDir, tempDir } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHub, type Hub } from "../src/index.js";

const repo = join(import.meta.dirname, "..", "..", "..");

describe("the hub serves exactly its route tables", () => {
  let dir: TempDir;
  let hub: Hub;

  beforeAll(async () => {
    dir = await tempDir();
    hub = await createHub({ dataDir: dir.path, logLevel: "silent" });
    await hub.app.ready();
  });
  afterAll(async () => {
    await hub?.close();
    await dir?.remove();
  });

  const served = () =>
    hub.routes
      .list()
      .filter((r) => r.method !== "HEAD" && r.url !== "/*" && !r.url.startsWith(API_REFERENCE_PREFIX))
      .map((r) => `${r.method} ${r.url}`)
      .sort();

  it("registers every route of every table, and no route outside them", () => {
    const declared = allRoutes()
      .map(({ spec }) => `${spec.method} ${spec.path}`)
      .sort();
    expect(new Set(declared).size, "a method and path is declared twice").toBe(declared.length);
    expect(served()).toEqual(declared);
  });

  it("registers each route with the access its table declares", () => {
    const byKey = new Map(hub.routes.list().map((r) => [`${r.method} ${r.url}`, r]));
    for (const { spec } of allRoutes()) {
      const r = byKey.get(`${spec.method} ${spec.path}`);
      expect(r?.permission, `${spec.method} ${spec.path}`).toBe(spec.permission);
      expect(r?.auth, `${spec.method} ${spec.path}`).toBe(spec.auth ?? "user");
    }
  });

  it("serves its OpenAPI document and the rendered reference to anyone", async () => {
    const doc = await hub.app.inject({ method: "GET", url: "/api/openapi.json" });
    expect(doc.statusCode).toBe(200);
    const body = doc.json() as { openapi: string; paths: Record<string, unknown> };
    expect(body.openapi).toBe("3.1.0");
    expect(Object.keys(body.paths)).toContain("/api/v1/projects/{id}");
    const page = await hub.app.inject({ method: "GET", url: `${API_REFERENCE_PREFIX}/` });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toContain("text/html");
  });
});

describe("no hand-written API path outside the route tables", () => {
  function files(dir: string, out: string[] = []): string[] {
    for (const e of readdirSync(dir)) {
      const p = join(dir, e);
      if (e === "node_modules" || e === "dist") continue;
      if (statSync(p).isDirectory()) files(p, out);
      else if (/\.(ts|tsx|mts)$/.test(e)) out.push(p);
    }
    return out;
  }

  it("finds none in the hub, the console, the CLI, the agent, the client or the benchmarks", () => {
    const roots = ["apps/hub/src", "apps/web/src", "apps/cli/src", "apps/agent/src", "packages/client/src", "bench"];
    const offenders: string[] = [];
    for (const root of roots) {
      for (const f of files(join(repo, root))) {
        readFileSync(f, "utf8")
          .split("\n")
          .forEach((line, i) => {
            // a string or template literal that starts an API path
            if (/(["'`]|\})\/api\/v\d/.test(line)) offenders.push(`${relative(repo, f)}:${i + 1}: ${line.trim()}`);
          });
      }
    }
    expect(offenders).toEqual([]);
  });
});
