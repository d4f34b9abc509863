import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { hardPreset, renderFrame } from "@kensa/synth";
import { tempDir } from "@kensa/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { kensa } from "./run-kensa.js";

const dir = await tempDir("kensa-synth-hard-");
afterAll(() => dir.remove());

/** class → file names of an ImageFolder dataset */
async function listing(root: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const cls of (await readdir(root)).sort()) out[cls] = (await readdir(join(root, cls))).sort();
  return out;
}

describe("kensa synth --hard", () => {
  it("writes the demo's harder frames: the same ground truth as plain frames, other pixels", async () => {
    const plain = join(dir.path, "plain");
    const hard = join(dir.path, "hard");
    const common = ["--count", "12", "--seed", "3", "--size", "160x120"];
    expect((await kensa({}, "synth", ...common, "--out", plain)).status).toBe(0);
    const ran = await kensa({}, "synth", ...common, "--hard", "--out", hard);
    expect(ran.status, ran.stderr).toBe(0);
    // hardness never changes which frames have defects
    const files = await listing(hard);
    expect(files).toEqual(await listing(plain));
    let differ = 0;
    for (const [cls, names] of Object.entries(files)) {
      for (const name of names) {
        const a = await readFile(join(plain, cls, name));
        const b = await readFile(join(hard, cls, name));
        if (!a.equals(b)) differ++;
      }
    }
    expect(differ).toBe(12);
    // the same frames the demo's cameras and first training render with the preset
    const index = Number(files.defect![0]!.replace(/\.jpg$/, ""));
    const frame = await renderFrame(index, { seed: 3, width: 160, height: 120, defectRate: 0.5, ...hardPreset });
    expect(frame.defect).not.toBeNull();
    const written = await readFile(join(hard, "defect", files.defect![0]!));
    expect(written.equals(frame.jpeg)).toBe(true);
  }, 60_000);

  it("lets single flags override the preset, and refuses out-of-range hardness naming the flag", async () => {
    const a = join(dir.path, "a");
    const b = join(dir.path, "b");
    const args = ["--count", "4", "--seed", "5", "--size", "64x48", "--defect-rate", "1"];
    expect((await kensa({}, "synth", ...args, "--hard", "--out", a)).status).toBe(0);
    expect((await kensa({}, "synth", ...args, "--hard", "--faint", "1", "--out", b)).status).toBe(0);
    const [fa, fb] = [await listing(a), await listing(b)];
    const differs = await Promise.all(
      fa.defect!.map(async (n) =>
        (await readFile(join(a, "defect", n))).equals(await readFile(join(b, "defect", n))) ? 0 : 1,
      ),
    );
    expect(fb).toEqual(fa);
    expect(differs.reduce((x: number, y) => x + y, 0)).toBeGreaterThan(0);
    for (const [flag, value] of [
      ["--faint", "2"],
      ["--texture", "9"],
      ["--noise", "0.5"],
    ] as const) {
      const bad = await kensa({}, "synth", "--out", join(dir.path, "bad"), flag, value);
      expect(bad.status).not.toBe(0);
      expect(bad.stderr).toContain("KENSA_ERR_FLAG_INVALID");
      expect(bad.stderr).toContain(flag);
    }
  }, 60_000);
});
