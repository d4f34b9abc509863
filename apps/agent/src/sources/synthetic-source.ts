import { SyntheticCamera } from "@kensa/synth";
import { PacedSource, type Tick } from "./paced-source.js";
import type { SyntheticSourceConfig } from "./source-config.js";

/** The deterministic defect simulator as a camera (demo, tests, soak runs). */
export class SyntheticSource extends PacedSource {
  readonly type = "synthetic";
  readonly #camera: SyntheticCamera;
  readonly #seed: number;

  constructor(config: SyntheticSourceConfig) {
    super(config.id, config.fps);
    this.#seed = config.seed;
    this.#camera = new SyntheticCamera({
      seed: config.seed,
      width: config.width,
      height: config.height,
      defectRate: config.defectRate,
      ...(config.surface ? { surface: config.surface } : {}),
      // harder frames, when the config asks for them (the demo's cameras do)
      ...Object.fromEntries(
        (["faint", "drift", "texture", "blur", "noise"] as const)
          .filter((k) => config[k] !== undefined)
          .map((k) => [k, config[k]]),
      ),
    });
  }

  protected async tick(): Promise<Tick> {
    const f = await this.#camera.next();
    return {
      frame: {
        image: f.jpeg,
        meta: { synthetic: true, index: f.index, seed: this.#seed, defect: f.defect?.type ?? null },
      },
    };
  }
}
