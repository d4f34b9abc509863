import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { RetentionPolicy } from "@kensa/contracts";
import { repoRoot } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seed, startHub, type TestHub } from "./helpers.js";

const run = promisify(execFile);

describe("kensa retention", () => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startHub({ retention: { everyMinutes: 10_000 } });
  });
  afterAll(async () => {
    await t?.close();
  });

  // the hub runs in this process: the CLI must run beside it, not block it (no spawnSync)
  const kensa = (...args: string[]) =>
    run(
      process.execPath,
      ["--import", "tsx", "apps/cli/src/main.ts", ...args, "--hub", t.httpUrl, "--token", t.hub.adminToken],
      {
        cwd: repoRoot,
        encoding: "utf8",
      },
    );

  it("sets, shows and holds through the hub", async () => {
    const { projectId } = await seed(t.call, "ret-cli", []);
    const set = await kensa(
      "retention",
      "set",
      "--project",
      projectId,
      "--frames-max-age",
      "10d",
      "--events-max-bytes",
      "1GB",
    );
    expect(set.stdout).toContain("retention is ON on this hub");
    expect(set.stdout).toMatch(/frames\s+10 days \(project\)/);
    const policy = await t.call<RetentionPolicy>("GET", `/api/v1/projects/${projectId}/retention`);
    expect(policy.json.override).toEqual({ frames: { maxAgeDays: 10 }, events: { maxBytes: 1024 ** 3 } });
    const hold = await kensa("retention", "hold", "--project", projectId, "--reason", "dispute 7");
    expect(hold.stdout).toMatch(/hld_\S+\s+project .*IN FORCE.*dispute 7/);
    const shown = await kensa("retention", "show", "--project", projectId);
    expect(shown.stdout).toContain("legal holds in force: 1");
    const ran = await kensa("retention", "run");
    expect(ran.stdout).toMatch(/deleted: \d+ events/);
    const bad = await kensa("retention", "set", "--project", projectId, "--clips-max-age", "soon").catch(
      (e: { stderr: string; code: number }) => e,
    );
    expect((bad as { code: number }).code).not.toBe(0);
    expect((bad as { stderr: string }).stderr).toContain('not an age in days: "soon"');
  });
});
