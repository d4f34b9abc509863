import { SyntheticSourceConfig } from "@kensa/contracts";
import { hardPreset, renderFrame } from "@kensa/synth";
import { Value } from "@sinclair/typebox/value";
import { describe, expect, it } from "vitest";
import { SyntheticSource } from "../src/sources/synthetic-source.js";

/** the first frame a source emits */
async function firstFrame(source: SyntheticSource): Promise<Buffer> {
  const frame = new Promise<Buffer>((resolve) => source.once("frame", (f) => resolve(f.image as Buffer)));
  source.start();
  try {
    return await frame;
  } finally {
    await source.stop();
  }
}

describe("synthetic source with hardness", () => {
  it("films the generator's harder frames when its config asks for them, the plain ones otherwise", async () => {
    const base = {
      id: "cam",
      type: "synthetic" as const,
      fps: 50,
      seed: 1000,
      defectRate: 0.5,
      width: 160,
      height: 120,
    };
    const hardConfig = Value.Default(SyntheticSourceConfig, { ...base, ...hardPreset }) as SyntheticSourceConfig;
    expect(Value.Check(SyntheticSourceConfig, hardConfig)).toBe(true);
    const hard = await firstFrame(new SyntheticSource(hardConfig));
    const plain = await firstFrame(
      new SyntheticSource(Value.Default(SyntheticSourceConfig, { ...base }) as SyntheticSourceConfig),
    );
    const opts = { seed: 1000, defectRate: 0.5, width: 160, height: 120 };
    expect(hard.equals((await renderFrame(0, { ...opts, ...hardPreset })).jpeg)).toBe(true);
    expect(plain.equals((await renderFrame(0, opts)).jpeg)).toBe(true);
    expect(hard.equals(plain)).toBe(false);
    // the config refuses hardness out of range, as the generator does
    expect(Value.Check(SyntheticSourceConfig, { ...hardConfig, faint: 2 })).toBe(false);
    expect(Value.Check(SyntheticSourceConfig, { ...hardConfig, texture: 5 })).toBe(false);
  });
});
