import type { ReportedPipeline } from "@kensa/contracts";
import { Badge, type Tone } from "../../ui";

const tones: Record<string, Tone> = { passed: "success", failed: "danger", skipped: "neutral" };

/** The pipeline's last golden-frame self-test: its result, and its parity figures as text. */
export function SelfTestCell({ pipeline }: { pipeline: ReportedPipeline }) {
  const t = pipeline.selfTest;
  if (!t) return <>—</>;
  const f = t.figures;
  const figures = [
    f.top1Agreement !== null ? `top-1 ${f.top1Agreement}` : null,
    f.maxScoreDelta !== null ? `Δscore ${f.maxScoreDelta}` : null,
    f.meanBoxIou !== null ? `box IoU ${f.meanBoxIou}` : null,
    f.meanMaskIou !== null ? `mask IoU ${f.meanMaskIou}` : null,
  ].filter(Boolean);
  return (
    <span title={t.note ?? `bundle ${t.bundleSha256}`}>
      <Badge tone={tones[t.status] ?? "neutral"}>{t.status}</Badge>{" "}
      <span className="muted">
        {t.arch} {t.precision}
        {figures.length ? ` · ${f.frames} frames · ${figures.join(" · ")}` : ""}
      </span>
    </span>
  );
}
