import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { createHub, type Hub } from "@kensa/hub";
import {
  findMosquittoBin,
  type MosquittoProcess,
  mosquittoProcess,
  needService,
  type TempDir,
  tempDir,
  waitFor,
} from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kensa } from "./run-kensa.js";

const ADMIN = "cli-status-admin-token-0123456789";
const noMosquitto = needService("mosquitto (a broker the test can stop)", findMosquittoBin() !== null);

/** A port nothing listens on: taken from the OS, then released. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

describe("kensa status and kensa completion", () => {
  let dir: TempDir;
  let hub: Hub;
  let lost: Hub | undefined;
  let broker: MosquittoProcess | undefined;
  let env: Record<string, string>;
  let lostEnv: Record<string, string>;

  beforeAll(async () => {
    dir = await tempDir();
    hub = await createHub({
      dataDir: join(dir.path, "hub"),
      adminToken: ADMIN,
      http: { port: 0 },
      mqtt: { embedded: { port: 0 } },
      logLevel: "silent",
    });
    env = { KENSA_HUB_URL: (await hub.start()).httpUrl, KENSA_ADMIN_TOKEN: ADMIN };
    const res = await hub.app.inject({
      method: "POST",
      url: "/api/v1/projects",
      headers: { authorization: `Bearer ${ADMIN}` },
      payload: {
        slug: "line-1",
        name: "Surface line",
        task: "classification",
        labels: ["ok", "defect"],
        okLabels: ["ok"],
        rule: { type: "threshold", labels: [], minScore: 0.5 },
        notifications: { email: [], webhooks: [], cooldownSec: 300 },
      },
    });
    expect(res.statusCode).toBe(201);
    // a hub whose external broker went away: it answers, degraded
    if (noMosquitto) return;
    broker = await mosquittoProcess({ dir: dir.path, lines: ["allow_anonymous true"] });
    await broker.start();
    lost = await createHub({
      dataDir: join(dir.path, "lost"),
      adminToken: ADMIN,
      http: { port: 0 },
      mqtt: { url: broker.url, embedded: { enabled: false } },
      logLevel: "silent",
    });
    lostEnv = { KENSA_HUB_URL: (await lost.start()).httpUrl, KENSA_ADMIN_TOKEN: ADMIN };
    await broker.stop();
    const health = async () => (await lost?.app.inject({ method: "GET", url: "/health" }))?.json().mqtt;
    await waitFor("the hub to see its broker gone", async () => (await health()) === "disconnected");
  }, 60_000);

  afterAll(async () => {
    await hub?.close();
    await lost?.close();
    await broker?.stop();
    await dir?.remove();
  });

  it("status: health, devices, training and each project's champion; --json is the same facts", async () => {
    const [text, json] = await Promise.all([kensa(env, "status"), kensa(env, "status", "--json")]);
    expect(text.stderr).toBe("");
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/^hub\s+http:\/\/127\.0\.0\.1:\d+ {2}ok \(protocol \d+, MQTT connected\)$/m);
    expect(text.stdout).toMatch(/^devices\s+0 of 0 online$/m);
    expect(text.stdout).toMatch(/^training\s+idle$/m);
    expect(text.stdout).toMatch(/^ {2}line-1 {2}no champion$/m);
    expect(text.stdout).not.toMatch(/problems/);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.health.status).toBe("ok");
    expect(parsed.projects).toEqual([{ slug: "line-1", name: "Surface line", champion: null, candidates: 0 }]);
  });

  it.skipIf(noMosquitto)(
    "status on a degraded hub names each problem and exits 2; an unreachable hub is an error",
    async () => {
      const res = await kensa(lostEnv, "status");
      expect(res.status).toBe(2);
      expect(res.stdout).toMatch(/DEGRADED \(protocol \d+, MQTT disconnected\)/);
      expect(res.stdout).toMatch(/^ {2}KENSA_ERR_BROKER_UNREACHABLE since \S+: the hub is not connected/m);
      const none = await kensa({ ...env, KENSA_HUB_URL: `http://127.0.0.1:${await closedPort()}` }, "status");
      expect(none.status).toBe(1);
      expect(none.stdout).toBe("");
      expect(none.stderr).toMatch(/KENSA_ERR|cannot reach|ECONNREFUSED/i);
    },
  );

  it("completion bash completes commands, subcommands and flags from the real command tree", async () => {
    const res = await kensa({}, "completion", "bash");
    expect(res.status).toBe(0);
    const script = join(dir.path, "kensa-completion.sh");
    writeFileSync(script, res.stdout);
    const complete = (...words: string[]) =>
      execFileSync(
        "bash",
        [
          "-c",
          `source "$0"; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _kensa_complete; printf '%s\\n' "\${COMPREPLY[@]}"`,
          script,
          "kensa",
          ...words,
        ],
        { encoding: "utf8" },
      )
        .split("\n")
        .filter(Boolean)
        .sort();
    expect(complete("sta")).toEqual(["status"]);
    expect(complete("dataset", "")).toEqual(expect.arrayContaining(["import", "snapshot"]));
    expect(complete("dataset", "")).not.toContain("--help");
    // a flag value between the command words does not lose the place
    expect(complete("status", "--hub", "http://x", "--js")).toEqual(["--json"]);
    expect(complete("hub", "--mqtt-p")).toEqual(["--mqtt-port"]);
    // a leaf command: no words, so bash offers file names
    expect(complete("dataset", "import", "")).toEqual([]);
    const zsh = await kensa({}, "completion", "zsh");
    expect(zsh.stdout.startsWith("autoload -U +X bashcompinit && bashcompinit\n")).toBe(true);
    const bad = await kensa({}, "completion", "tcsh");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown shell "tcsh" \(bash or zsh\)/);
  }, 30_000);
});
