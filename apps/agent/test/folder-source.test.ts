import { utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SyntheticCamera } from "@kensa/synth";
import { tempDir, waitFor } from "@kensa/testkit";
import { describe, expect, it } from "vitest";
import { Logger } from "../src/logger.js";
import { FolderSource } from "../src/sources/folder-source.js";
import type { Frame } from "../src/sources/frame-source.js";
import { SourceSet } from "../src/sources/source-set.js";

describe("folder source with a corrupt file", () => {
  it("logs the corrupt file once while looping, counts its skips, and plays it again once it changes", async () => {
    const dir = await tempDir();
    const camera = new SyntheticCamera({ seed: 3, width: 64, height: 48 });
    const good = (await camera.next()).jpeg;
    writeFileSync(join(dir.path, "a.jpg"), good);
    // a JPEG cut short, as a writer that died half-way leaves it
    writeFileSync(join(dir.path, "b.jpg"), good.subarray(0, 200));
    writeFileSync(join(dir.path, "c.jpg"), "not an image at all");

    const lines: Array<Record<string, unknown>> = [];
    const frames: Frame[] = [];
    const set = new SourceSet({
      configs: [{ id: "replay", type: "folder", path: dir.path, fps: 50, loop: true }],
      defaultPipeline: "default",
      sinks: new Map([["default", { id: "default", handle: (f: Frame) => frames.push(f), intake: () => "ready" }]]),
      context: { ffmpegPath: "ffmpeg" },
      logger: new Logger("debug", {}, (line) => lines.push(JSON.parse(line) as Record<string, unknown>)),
    });
    const source = set.sources[0] as FolderSource;
    set.start();
    // at 50 fps with one playable file, 20 frames are 20 passes over the two bad ones
    await waitFor("20 passes", () => frames.length >= 20);
    const warned = lines.filter((l) => l.msg === "source failed");
    expect(warned.map((l) => l.code)).toEqual(["KENSA_ERR_MEDIA_INVALID", "KENSA_ERR_MEDIA_INVALID"]);
    expect(String(warned[0]?.message)).toMatch(/b\.jpg is not a complete JPEG\/PNG \(200 bytes\).*1 file skipped/);
    expect(String(warned[1]?.message)).toMatch(/c\.jpg is not a complete JPEG\/PNG.*2 files skipped/);
    expect(new Set(frames.map((f) => f.meta.file))).toEqual(new Set(["a.jpg"]));
    const skipped = source.skippedFiles;
    expect(skipped.map((s) => s.file).sort()).toEqual(["b.jpg", "c.jpg"]);
    expect(Math.min(...skipped.map((s) => s.skips))).toBeGreaterThanOrEqual(15);
    expect(source.status).toBe("running");

    // the writer finishes b.jpg: it plays again, and nothing more is logged about it
    writeFileSync(join(dir.path, "b.jpg"), good);
    utimesSync(join(dir.path, "b.jpg"), new Date(), new Date(Date.now() + 5000));
    await waitFor("b.jpg plays", () => frames.some((f) => f.meta.file === "b.jpg"));
    expect(source.skippedFiles.map((s) => s.file)).toEqual(["c.jpg"]);
    expect(lines.filter((l) => l.msg === "source failed")).toHaveLength(2);
    await set.stop();
    await dir.remove();
  });

  it("a folder of nothing but bad files waits a second between passes instead of spinning", async () => {
    const dir = await tempDir();
    writeFileSync(join(dir.path, "x.png"), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    const source = new FolderSource({ id: "bad", type: "folder", path: dir.path, fps: 50, loop: true });
    const errors: string[] = [];
    source.on("error", (e) => errors.push(e.code));
    source.start();
    await new Promise((r) => setTimeout(r, 1500));
    await source.stop();
    expect(errors).toEqual(["KENSA_ERR_MEDIA_INVALID"]);
    // 50 fps would be 75 passes; one a second is 1 or 2
    expect(source.skippedFiles[0]?.skips).toBeLessThanOrEqual(2);
    await dir.remove();
  });
});
