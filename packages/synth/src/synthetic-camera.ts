import { renderFrame, type SynthFrame } from "./render-frame.js";
import { type ResolvedSynthOptions, resolveSynthOptions, type SynthOptions } from "./synth-options.js";

/** An endless deterministic camera: frame n is `renderFrame(n, opts)`. */
export class SyntheticCamera {
  readonly options: Readonly<ResolvedSynthOptions>;
  #index = 0;

  constructor(opts: SynthOptions) {
    // validate now, so a bad simulator config fails at startup rather than on the first frame
    this.options = Object.freeze(resolveSynthOptions(opts));
  }

  /** index of the frame the next call to next() returns */
  get index(): number {
    return this.#index;
  }

  next(): Promise<SynthFrame> {
    return renderFrame(this.#index++, this.options);
  }
}
