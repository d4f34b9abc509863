import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, repoRoot, type TempDir, tempDir, waitFor } from "@kensa/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { skipWithoutTorch } from "../trainer/helpers.js";

/**
 * README's "Running the parts yourself", run as written: its `npm run kensa -- …` lines, in
 * order, in an empty folder, against the hub the first line starts. Only what a reader fills in
 * is filled in: the device secret `device enroll` printed, and free ports instead of 8080/1883.
 */
interface Step {
  line: string;
  env: Record<string, string>;
  args: string[];
}

const SECTION = "## Running the parts yourself";

/** The first ```sh block of the section, one step per `npm run kensa -- …` command. */
function readmeParts(readme: string): Step[] {
  const start = readme.indexOf(SECTION);
  if (start < 0) throw new Error(`README.md has no "${SECTION}" section`);
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(start))?.[1];
  if (!block) throw new Error(`"${SECTION}" has no sh block`);
  const lines = block.replace(/\\\n\s*/g, "").split("\n");
  const steps: Step[] = [];
  for (const raw of lines) {
    const words = shellWords(raw);
    if (words.length === 0) continue;
    const env: Record<string, string> = {};
    while (/^[A-Z_]+=/.test(words[0] ?? "")) {
      const [k, ...v] = words.shift()!.split("=");
      env[k!] = v.join("=");
    }
    if (words.slice(0, 4).join(" ") !== "npm run kensa --") throw new Error(`not a kensa command: ${raw}`);
    steps.push({ line: raw.trim(), env, args: words.slice(4) });
  }
  return steps;
}

/** Words of a shell line: single and double quotes, a `#` comment; no expansions. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let cur: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "#" && cur === null) break;
    if (c === " " || c === "\t") {
      if (cur !== null) words.push(cur);
      cur = null;
    } else if (c === '"' || c === "'") {
      const end = line.indexOf(c, i + 1);
      if (end < 0) throw new Error(`unclosed quote in: ${line}`);
      cur = (cur ?? "") + line.slice(i + 1, end);
      i = end;
    } else cur = (cur ?? "") + c;
  }
  if (cur !== null) words.push(cur);
  return words;
}

interface Ran {
  code: number | null;
  out: string;
}

const skip = skipWithoutTorch();

describe.skipIf(skip)("README: running the parts yourself", () => {
  const steps = readmeParts(readFileSync(join(repoRoot, "README.md"), "utf8"));
  let dir: TempDir;
  const daemons: ChildProcess[] = [];
  let env: NodeJS.ProcessEnv;

  /** `npm run kensa -- …` from the temp folder (npm's --prefix finds the checkout; INIT_CWD stays the folder) */
  const npm = (args: string[], extra: Record<string, string> = {}, detached = false) =>
    spawn("npm", ["--prefix", repoRoot, "run", "--silent", "kensa", "--", ...args], {
      cwd: dir.path,
      env: { ...env, ...extra },
      stdio: ["ignore", "pipe", "pipe"],
      detached,
    });
  const run = (args: string[], extra: Record<string, string> = {}): Promise<Ran> =>
    new Promise((resolve) => {
      const p = npm(args, extra);
      let out = "";
      p.stdout!.on("data", (d) => (out += d));
      p.stderr!.on("data", (d) => (out += d));
      p.on("close", (code) => resolve({ code, out }));
    });
  /** a long-running step (hub, agent): started, and awaited until it prints `ready` */
  const daemon = async (args: string[], extra: Record<string, string>, ready: RegExp) => {
    // its own process group: the npm → sh → node chain ends as one
    const p = npm(args, extra, true);
    daemons.push(p);
    let out = "";
    p.stdout!.on("data", (d) => (out += d));
    p.stderr!.on("data", (d) => (out += d));
    await waitFor(`${args[0]} to start`, () => {
      if (p.exitCode !== null) throw new Error(`${args[0]} exited ${p.exitCode}: ${out.slice(-800)}`);
      if (!ready.test(out)) throw new Error(`output so far: ${out.slice(-400) || "(none)"}`);
      return true;
    });
  };

  afterAll(async () => {
    for (const p of daemons.reverse()) {
      if (p.exitCode !== null) continue;
      const closed = new Promise((r) => p.once("close", r));
      process.kill(-p.pid!, "SIGTERM");
      await Promise.race([closed, new Promise((r) => setTimeout(r, 10_000))]);
    }
    await dir?.remove();
  });

  it("takes the section's commands: hub, project, device, agent, synth, import, train, approve, deploy", () => {
    const sub = steps.map((s) => s.args.slice(0, 2).join(" "));
    expect(sub[0]).toBe("hub");
    for (const want of ["project create", "device enroll", "synth --out", "dataset import", "model approve"])
      expect(sub.some((s) => s.startsWith(want.split(" ")[0]!) && s.includes(want.split(" ")[1]!))).toBe(true);
    expect(sub.indexOf("synth --out")).toBeLessThan(sub.findIndex((s) => s.startsWith("train")));
  });

  it("runs them in order in an empty folder; the trained model ends approved and deployed", async () => {
    dir = await tempDir("kensa-readme-");
    const [http, mqtt] = [await freePort(), await freePort()];
    const hubUrl = `http://127.0.0.1:${http}`;
    const { INIT_CWD: _a, npm_lifecycle_script: _b, ...clean } = process.env;
    env = { ...clean, KENSA_HUB_URL: hubUrl };
    let secret: string | null = null;
    const took: string[] = [];
    const ports = (a: string) =>
      a.replace("127.0.0.1:8080", `127.0.0.1:${http}`).replace("127.0.0.1:1883", `127.0.0.1:${mqtt}`);
    for (const step of steps) {
      const args = step.args.map(ports);
      const extra = { ...step.env };
      if (extra.KENSA_DEVICE_SECRET === "…") {
        if (!secret) throw new Error(`no device secret printed before: ${step.line}`);
        extra.KENSA_DEVICE_SECRET = secret;
      }
      if (args[0] === "hub") {
        await daemon([...args, "--port", String(http), "--mqtt-port", String(mqtt)], extra, /kensa hub listening/);
        continue;
      }
      if (args[0] === "agent") {
        // its status page's port (8090) as well
        await daemon([...args, "--status-port", "0"], extra, /agent started/);
        continue;
      }
      const t0 = Date.now();
      const r = await run(args, extra);
      expect(r.code, `${step.line}\n${r.out}`).toBe(0);
      took.push(`${args.slice(0, 2).join(" ")} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      secret = /secret \(shown once[^)]*\): (\S+)/.exec(r.out)?.[1] ?? secret;
    }

    console.log(`README parts: ${took.join(", ")}`);
    const approve = steps.find((s) => s.args[0] === "model" && s.args[1] === "approve")!;
    const ref = approve.args[2]!;
    const show = await run(["model", "show", ref, "--json"]);
    expect(show.code, show.out).toBe(0);
    const model = JSON.parse(show.out) as { id: string; stage: string; champion?: boolean; source: string };
    expect(model.stage).toBe("approved");
    expect(model.champion).toBe(true);
    expect(model.source).toMatch(/^run:/);
    // the device the README enrolled loads it
    const enroll = steps.find((s) => s.args[0] === "device" && s.args[1] === "enroll")!;
    const deviceId = enroll.args[enroll.args.indexOf("--id") + 1]!;
    await waitFor(
      `${deviceId} to load ${ref} (${model.id})`,
      async () => {
        const d = await run(["device", "show", deviceId, "--json"]);
        return d.code === 0 && d.out.includes(`"modelVersionId": "${model.id}"`);
      },
      { timeoutMs: 30_000, intervalMs: 1000 },
    );
    // a loaded machine (CI beside other jobs) trains slower; on its own this takes about 100 s
  }, 180_000);
});

describe("kensa synth", () => {
  it("refuses a bad size or class before writing anything, with the flag named", async () => {
    const d = await tempDir("kensa-synth-");
    try {
      const cli = (args: string[]) =>
        new Promise<Ran>((resolve) => {
          const p = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "apps/cli/src/main.ts"), ...args], {
            cwd: repoRoot,
            stdio: ["ignore", "pipe", "pipe"],
          });
          let out = "";
          p.stdout.on("data", (b) => (out += b));
          p.stderr.on("data", (b) => (out += b));
          p.on("close", (code) => resolve({ code, out }));
        });
      const size = await cli(["synth", "--out", join(d.path, "a"), "--size", "16x16"]);
      expect(size.code).not.toBe(0);
      expect(size.out).toContain("KENSA_ERR_FLAG_INVALID");
      expect(size.out).toContain("--size");
      const cls = await cli(["synth", "--out", join(d.path, "b"), "--defect-class", "ok", "--count", "2"]);
      expect(cls.code).not.toBe(0);
      expect(cls.out).toContain("KENSA_ERR_FLAG_INVALID");
      expect(cls.out).toContain("--defect-class");
      const { readdir } = await import("node:fs/promises");
      expect(await readdir(d.path)).toEqual([]);
    } finally {
      await d.remove();
    }
  });
});
