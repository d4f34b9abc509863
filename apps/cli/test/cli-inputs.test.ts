import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createHub, type Hub } from "@kensa/hub";
import { repoRoot, type TempDir, tempDir } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonErrorOffset } from "../src/json-position.js";
import { kensa } from "./run-kensa.js";

const ADMIN = "cli-inputs-admin-token-0123456789";
/** what npm sets for `npm run kensa -- …` started in `folder` */
const npmRun = (folder: string) => ({
  INIT_CWD: folder,
  npm_lifecycle_script: "node --import tsx apps/cli/src/main.ts",
});

describe("kensa input: caller-relative paths, token provenance, coded file and flag errors", () => {
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
        ...{ slug: "p", name: "P", task: "classification", labels: ["ok", "defect"], okLabels: ["ok"] },
        rule: { type: "threshold", labels: [], minScore: 0.5 },
        notifications: { email: [], webhooks: [], cooldownSec: 300 },
      },
    });
    expect(created.statusCode).toBe(201);
  }, 60_000);

  afterAll(async () => {
    await hub?.close();
    await dir?.remove();
  });

  it("under npm run, relative paths are the caller's folder (INIT_CWD), not the repository root", async () => {
    const made = await kensa({ ...npmRun(dir.path) }, "model", "build-blemish", "--out", "rel-model");
    expect(made.status, made.stderr).toBe(0);
    const missing = await kensa(
      { ...npmRun(dir.path), KENSA_HUB_URL: httpUrl, KENSA_ADMIN_TOKEN: ADMIN },
      ...["model", "push", "rel-model.onnx", "--manifest", "nowhere.json", "--project", "p"],
    );
    // the manifest is looked for beside the model the caller just wrote, and named absolutely
    expect(missing.stderr).toContain(
      `error KENSA_ERR_FILE_NOT_FOUND: model manifest not found: ${join(dir.path, "nowhere.json")}`,
    );
    // INIT_CWD inherited from another npm script (npm test spawning the CLI) does not move it
    const inherited = await kensa(
      { INIT_CWD: dir.path, npm_lifecycle_script: "vitest run", CWD: dir.path },
      ...["model", "build-blemish", "--out", "second"],
    );
    expect(inherited.status).toBe(0);
    const { stat } = await import("node:fs/promises");
    await expect(stat(join(dir.path, "rel-model.onnx"))).resolves.toBeTruthy();
    await expect(stat(join(dir.path, "second.onnx"))).resolves.toBeTruthy();
    await expect(stat(join(repoRoot, "rel-model.onnx"))).rejects.toThrow();
  }, 60_000);

  it("a missing file, an unreadable one and bad JSON are coded errors naming the file (and position)", async () => {
    await writeFile(join(dir.path, "bad.json"), '{\n  "task": "classification",\n  "labels": [ok]\n}\n');
    const env = { KENSA_HUB_URL: httpUrl, KENSA_ADMIN_TOKEN: ADMIN, CWD: dir.path };
    const [noFile, badJson, folder] = await Promise.all([
      kensa(env, "dataset", "import", "no-such-folder", "--project", "p", "--format", "imagefolder"),
      kensa(env, "model", "push", "x.onnx", "--manifest", "bad.json", "--project", "p"),
      kensa(env, "model", "push", "x.onnx", "--manifest", ".", "--project", "p"),
    ]);
    expect(noFile.status).toBe(1);
    expect(noFile.stderr).toContain(
      `error KENSA_ERR_FILE_NOT_FOUND: file not found: ${join(dir.path, "no-such-folder")}`,
    );
    expect(noFile.stderr).not.toContain("ENOENT:");
    expect(badJson.stderr).toContain(
      `error KENSA_ERR_FILE_JSON_INVALID: model manifest ${join(dir.path, "bad.json")} is not valid JSON at line 3, column 14`,
    );
    expect(folder.stderr).toContain(
      `error KENSA_ERR_FILE_UNREADABLE: model manifest ${dir.path} cannot be read: it is a folder`,
    );
  }, 60_000);

  it("finds where JSON stops being JSON, as the parser does", () => {
    expect(jsonErrorOffset('{"a": [1, 2.5e3, null, true, false, "s\\u00e9"]}')).toBeNull();
    const cases = ['{"a": 1,}', "[1, 2", '{"a" 1}', '"abc', '{"a": "\\x"}', "[1] x", '{"a":\n  01}'];
    for (const c of cases) {
      const native = (() => {
        try {
          JSON.parse(c);
        } catch (err) {
          return Number(/position (\d+)/.exec((err as Error).message)?.[1]);
        }
      })();
      expect([c, jsonErrorOffset(c)]).toEqual([c, native]);
    }
    expect(jsonErrorOffset('{"a": [ok]}')).toBe(7);
  });

  it("a number flag that is not one fails before the hub is called, naming the flag and the value", async () => {
    // the hub URL is unreachable: a request would fail with KENSA_ERR_NETWORK instead
    const env = { KENSA_HUB_URL: "http://127.0.0.1:9", KENSA_ADMIN_TOKEN: ADMIN };
    const [epochs, lr, port, limit] = await Promise.all([
      kensa(env, "train", "--project", "p", "--epochs", "ten"),
      kensa(env, "train", "--project", "p", "--lr", "0"),
      kensa(env, "hub", "--port", "80000", "--validate-config"),
      kensa(env, "run", "list", "--limit", "2.5"),
    ]);
    expect(epochs.status).toBe(1);
    expect(epochs.stderr.trim()).toBe(
      "error KENSA_ERR_FLAG_INVALID: --epochs must be an integer from 1 to 10000, got 'ten'",
    );
    expect(lr.stderr).toContain("error KENSA_ERR_FLAG_INVALID: --lr must be a number > 0 and ≤ 10, got '0'");
    expect(port.stderr).toContain(
      "error KENSA_ERR_FLAG_INVALID: --port must be an integer from 0 to 65535, got '80000'",
    );
    expect(limit.stderr).toContain(
      "error KENSA_ERR_FLAG_INVALID: --limit must be an integer from 1 to 1000, got '2.5'",
    );
  }, 60_000);

  it("a refused token says where it came from and how to fix it", async () => {
    const dataDir = join(dir.path, "old-start");
    const { mkdir } = await import("node:fs/promises");
    await mkdir(dataDir);
    // left by an earlier (failed) start of a hub with this data dir
    await writeFile(join(dataDir, "admin-token"), "stale-token-from-a-failed-start\n");
    const [fromFile, fromEnv, fromFlag, none] = await Promise.all([
      kensa({ KENSA_HUB_URL: httpUrl }, "project", "list", "--data-dir", dataDir),
      kensa({ KENSA_HUB_URL: httpUrl, KENSA_ADMIN_TOKEN: "wrong-env-token" }, "project", "list"),
      kensa({ KENSA_HUB_URL: httpUrl }, "project", "list", "--token", "wrong-flag-token"),
      kensa({ KENSA_HUB_URL: httpUrl }, "project", "list", "--data-dir", join(dir.path, "no-hub-here")),
    ]);
    expect(fromFile.status).toBe(1);
    expect(fromFile.stderr).toContain("error KENSA_ERR_UNAUTHORIZED");
    expect(fromFile.stderr).toContain(
      `the token used (stal…) came from the file ${join(dataDir, "admin-token")} (written `,
    );
    expect(fromFile.stderr).toContain("earlier or failed start");
    expect(fromFile.stderr).toContain("delete the file");
    expect(fromEnv.stderr).toContain("the token used (wron…) came from the environment variable KENSA_ADMIN_TOKEN");
    expect(fromFlag.stderr).toContain("the token used (wron…) came from --token");
    expect(none.stderr).toContain(
      `error KENSA_ERR_UNAUTHORIZED: no admin token: pass --token, set KENSA_ADMIN_TOKEN, or run beside a hub whose ${join(dir.path, "no-hub-here", "admin-token")} exists`,
    );
    // the right token from the same places works
    const ok = await kensa({ KENSA_HUB_URL: httpUrl }, "project", "list", "--token", ADMIN);
    expect(ok.status, ok.stderr).toBe(0);
  }, 60_000);
});
