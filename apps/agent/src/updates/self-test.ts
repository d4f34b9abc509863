import {
  type BundleManifest,
  type GoldenFrame,
  goldenOutputOf,
  KensaError,
  type SelfTestReport,
  targetArch,
} from "@kensa/contracts";
import type { InferenceModel } from "../inference/model.js";
import { type ParityPair, parityOf, toleranceBreaches } from "./self-test-parity.js";

/** Fetches one golden frame's bytes, checked against its sha256 (download errors propagate). */
export type GoldenFrameFetcher = (frame: GoldenFrame, signal: AbortSignal) => Promise<Uint8Array>;

const EMPTY_FIGURES = { frames: 0, top1Agreement: null, maxScoreDelta: null, meanBoxIou: null, meanMaskIou: null };

/**
 * The golden-set self-test: each of the bundle's golden frames through the freshly loaded model,
 * with the agent's real preprocessing and postprocessing, compared with the outputs the hub
 * computed for the same model file. `skipped` when the bundle carries no frames (its manifest
 * says why). A model that throws on a golden frame fails the test. Never throws for a parity
 * failure: the caller refuses the swap on `failed` (selfTestError).
 */
export async function runSelfTest(
  model: InferenceModel,
  bundleSha256: string,
  bundle: BundleManifest,
  fetchFrame: GoldenFrameFetcher,
  signal: AbortSignal,
  arch: string = targetArch(process.arch),
): Promise<SelfTestReport> {
  const started = performance.now();
  const precision = bundle.target?.precision ?? "fp32";
  const golden = bundle.golden;
  const base = { bundleSha256, arch, precision } as const;
  const done = (rest: Pick<SelfTestReport, "status" | "figures" | "tolerances"> & { note?: string }) => ({
    ...base,
    ...rest,
    ms: Math.round((performance.now() - started) * 100) / 100,
    ts: new Date().toISOString(),
  });
  if (!golden || golden.frames.length === 0) {
    const note = golden?.note ?? "the bundle carries no golden frames (built by a hub without self-tests)";
    return done({ status: "skipped", figures: EMPTY_FIGURES, tolerances: golden?.tolerances ?? null, note });
  }
  const pairs: ParityPair[] = [];
  for (const frame of golden.frames) {
    const bytes = await fetchFrame(frame, signal);
    try {
      const out = await model.infer(bytes);
      pairs.push({
        expected: frame.expected,
        actual: goldenOutputOf(out.result),
        width: frame.width,
        height: frame.height,
      });
    } catch (err) {
      const figures = { ...parityOf(bundle.manifest.task, pairs), frames: pairs.length };
      const note = `golden frame ${frame.sampleId} failed to run: ${(err as Error).message}`;
      return done({ status: "failed", figures, tolerances: golden.tolerances, note });
    }
  }
  const figures = parityOf(bundle.manifest.task, pairs);
  const breaches = toleranceBreaches(figures, golden.tolerances);
  const foreign = bundle.target && bundle.target.arch !== "any" && bundle.target.arch !== arch;
  const note = [breaches, foreign ? `bundle built for ${bundle.target!.arch}, running on ${arch}` : ""]
    .filter(Boolean)
    .join("; ");
  return done({
    status: breaches ? "failed" : "passed",
    figures,
    tolerances: golden.tolerances,
    ...(note ? { note } : {}),
  });
}

/** KENSA_ERR_BUNDLE_SELF_TEST_FAILED with the parity figures in its message and details. */
export function selfTestError(report: SelfTestReport): KensaError {
  const f = report.figures;
  const figures = [
    `${f.frames} frames`,
    f.top1Agreement !== null ? `top-1 agreement ${f.top1Agreement}` : "",
    f.maxScoreDelta !== null ? `max score delta ${f.maxScoreDelta}` : "",
    f.meanBoxIou !== null ? `box IoU ${f.meanBoxIou}` : "",
    f.meanMaskIou !== null ? `mask IoU ${f.meanMaskIou}` : "",
  ].filter(Boolean);
  return new KensaError(
    "KENSA_ERR_BUNDLE_SELF_TEST_FAILED",
    `bundle ${report.bundleSha256.slice(0, 12)} failed its golden-frame self-test on ${report.arch} (${report.note ?? "outside tolerances"}): ${figures.join(", ")}`,
    { selfTest: report },
  );
}
