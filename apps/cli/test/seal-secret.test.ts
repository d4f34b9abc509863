import { execFile } from "node:child_process";
import { createHub } from "@kensa/hub";
import { repoRoot, type TempDir, tempDir } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** `kensa hub seal-secret` in a child process, with `input` on its stdin. */
function seal(input: string, ...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ["--import", "tsx", "apps/cli/src/main.ts", "hub", "seal-secret", ...args],
      { cwd: repoRoot, encoding: "utf8", env: { ...process.env, KENSA_SECRETS_KEY: "" } },
      (err, stdout, stderr) =>
        resolve({
          status: err ? ((err as { code?: number }).code ?? 1) : 0,
          stdout: String(stdout),
          stderr: String(stderr),
        }),
    );
    child.stdin?.end(input);
  });
}

const start = (dataDir: string, smtpPass: string) =>
  createHub(
    {
      dataDir,
      logLevel: "silent",
      http: { host: "127.0.0.1", port: 0 },
      smtp: { host: "127.0.0.1", port: 2525, user: "kensa", pass: smtpPass },
    },
    { env: {} },
  );

describe("kensa hub seal-secret", () => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await tempDir("kensa-cli-seal-");
  });
  afterAll(async () => {
    await dir.remove();
  });

  it("refuses while the hub has no key, then seals a password the hub opens", async () => {
    const before = await seal("smtp-pass\n", "--data-dir", dir.path);
    expect(before.status).toBe(1);
    expect(before.stderr).toContain("KENSA_ERR_SECRETS_KEY_MISSING");

    // the first start makes the key
    await (await start(dir.path, "plain")).close();
    const out = await seal("smtp-pass\n", "--data-dir", dir.path);
    expect(out.stderr).toBe("");
    expect(out.status).toBe(0);
    const sealed = out.stdout.trim();
    expect(sealed).toMatch(/^kensa:enc:v1:k[0-9a-f]{8}:/);
    expect(sealed).not.toContain("smtp-pass");

    // the hub takes the sealed value; an edited one refuses the start with a code
    await (await start(dir.path, sealed)).close();
    const parts = sealed.split(":");
    parts[5] = Buffer.from("other").toString("base64url");
    await expect(start(dir.path, parts.join(":"))).rejects.toMatchObject({ code: "KENSA_ERR_SECRETS_KEY_MISMATCH" });
  });
});
