import type { Capturer, CaptureStats } from "../capture/capturer.js";
import type { CaptureCandidate, CaptureSink } from "../inference/pipeline.js";

/**
 * The capture sink every pipeline is given: it forwards to the Capturer of the running capture
 * settings, which a remote config replaces while frames flow (none while capture is disabled).
 */
export class CaptureSwitch implements CaptureSink {
  #target: Capturer | undefined;

  constructor(target: Capturer | undefined) {
    this.#target = target;
  }

  set(target: Capturer | undefined): void {
    this.#target = target;
  }

  get wantsShadow(): boolean {
    return this.#target?.wantsShadow ?? false;
  }

  consider(candidate: CaptureCandidate): Promise<{ id: string; reason: string } | undefined> {
    return this.#target ? this.#target.consider(candidate) : Promise.resolve(undefined);
  }

  stats(): CaptureStats | undefined {
    return this.#target?.stats();
  }
}
