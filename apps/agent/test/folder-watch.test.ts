import { mkdirSync, readdirSync, readFileSync, renameSync, utimesSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { parseWith } from "@kensa/contracts";
import { tempDir, waitFor } from "@kensa/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { FolderWatchSourceConfig } from "../src/config.js";
import { Logger } from "../src/logger.js";
import type { Frame } from "../src/sources/frame-source.js";
import { SourceSet } from "../src/sources/source-set.js";
import { renderJpegs } from "./helpers/frames.js";
import { openPipelines, type TestPipelines } from "./helpers/pipeline.js";

const quiet = new Logger("error", {}, () => undefined);

describe("folder-watch source (real files, real pipeline)", () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c();
  });

  async function setup(loaded: boolean) {
    const dir = await tempDir();
    const inbox = join(dir.path, "in");
    mkdirSync(inbox);
    const p: TestPipelines = openPipelines(join(dir.path, "agent"), ["default"]);
    if (loaded) await p.pipelines.get("default")?.swap(await p.loadModel());
    const config = parseWith(
      FolderWatchSourceConfig,
      { id: "drop", type: "folder-watch", path: inbox, pollMs: 40, settleMs: 150 },
      "KENSA_ERR_CONFIG_INVALID",
    );
    const set = new SourceSet({
      configs: [config],
      defaultPipeline: "default",
      sinks: p.pipelines,
      context: { ffmpegPath: "ffmpeg" },
      logger: quiet,
    });
    const frames: Frame[] = [];
    set.entries[0]?.source.on("frame", (f) => frames.push(f));
    cleanup.push(async () => {
      await set.stop();
      await p.close();
      await dir.remove();
    });
    return { inbox, done: join(inbox, "done"), p, set, frames };
  }

  it("hands each new image over once, oldest first, never half-written, then moves it to done/", async () => {
    const { inbox, done, p, set, frames } = await setup(true);
    const images = await renderJpegs(6, 320, 240);
    // a backlog present at startup, named against their age: order follows mtime
    const backlog = ["z.jpg", "y.jpg", "x.jpg"];
    backlog.forEach((name, i) => {
      writeFileSync(join(inbox, name), images[i] as Buffer);
      utimesSync(join(inbox, name), new Date(), new Date(Date.now() - 60_000 + i * 1000));
    });
    set.start();
    await waitFor("the backlog", () => frames.length === 3);
    expect(frames.map((f) => f.meta.file)).toEqual(["z.jpg", "y.jpg", "x.jpg"]);

    // a camera writing slowly: half a JPEG, a pause far longer than settleMs, then the rest
    const half = images[3] as Buffer;
    const fh = await open(join(inbox, "h.jpg"), "w");
    await fh.write(half.subarray(0, half.length >> 1));
    await fh.sync();
    await new Promise((r) => setTimeout(r, 700));
    expect(frames.some((f) => f.meta.file === "h.jpg")).toBe(false);
    expect(readdirSync(inbox)).toContain("h.jpg");
    await fh.write(half.subarray(half.length >> 1));
    await fh.close();
    const h = await waitFor("the completed file", () => frames.find((f) => f.meta.file === "h.jpg"));
    expect(Buffer.from(h.image).equals(half)).toBe(true);

    // the rename-into-place convention: a .tmp name is never read
    writeFileSync(join(inbox, "r.jpg.tmp"), images[4] as Buffer);
    await new Promise((r) => setTimeout(r, 250));
    expect(frames.some((f) => String(f.meta.file).startsWith("r.jpg"))).toBe(false);
    renameSync(join(inbox, "r.jpg.tmp"), join(inbox, "r.jpg"));
    await waitFor("the renamed file", () => frames.some((f) => f.meta.file === "r.jpg"));

    await waitFor("all moved to done/", () => readdirSync(done).length === 5);
    await new Promise((r) => setTimeout(r, 300)); // several more scans: nothing is read twice
    const names = frames.map((f) => f.meta.file);
    expect(names).toEqual(["z.jpg", "y.jpg", "x.jpg", "h.jpg", "r.jpg"]);
    expect(readdirSync(inbox).sort()).toEqual(["done"]);
    expect(readFileSync(join(done, "h.jpg")).equals(half)).toBe(true);
    // each file became exactly one event, named by its file
    await p.pipelines.get("default")?.idle();
    expect(p.events().map((e) => e.frame.meta.file)).toEqual(names);
    expect(set.entries[0]?.stats()).toMatchObject({ framesTotal: 5, framesSampledOut: 0, status: "running" });
  });

  it("holds files back while the pipeline has no model, and sends them once it has one", async () => {
    const { inbox, done, p, set, frames } = await setup(false);
    const [image] = await renderJpegs(1);
    set.start();
    writeFileSync(join(inbox, "part-1.jpg"), image as Buffer);
    await new Promise((r) => setTimeout(r, 500));
    expect(frames).toEqual([]);
    expect(readdirSync(inbox)).toContain("part-1.jpg");
    await p.pipelines.get("default")?.swap(await p.loadModel());
    await waitFor("the file moved", () => readdirSync(done).includes("part-1.jpg"));
    expect(frames.map((f) => f.meta.file)).toEqual(["part-1.jpg"]);
    expect(p.events().length).toBe(1);
  });
});
