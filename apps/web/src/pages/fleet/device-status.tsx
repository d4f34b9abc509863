import type { Device, ReportedPipeline } from "@kensa/contracts";
import { Badge } from "../../ui";

export function PresenceBadge({ presence }: { presence: Device["presence"] }) {
  if (presence === "online") return <Badge tone="success">● online</Badge>;
  if (presence === "offline") return <Badge tone="danger">○ offline</Badge>;
  return <Badge>never connected</Badge>;
}

export function PipelineBadge({ pipeline }: { pipeline: ReportedPipeline }) {
  const tone =
    pipeline.status === "loaded"
      ? "success"
      : pipeline.status === "loading"
        ? "info"
        : pipeline.status === "error"
          ? "danger"
          : "neutral";
  return <Badge tone={tone}>{pipeline.status}</Badge>;
}

/** "a1b2c3d4e5f6" — enough of a sha256 to tell bundles apart on screen. */
export function shortSha(sha: string): string {
  return sha.slice(0, 12);
}

export type ModelNames = ReadonlyMap<string, string>;

/** The versions a device runs, one per pipeline, named "blemish v2" when the model is known. */
export function LoadedBundles({ device, models }: { device: Device; models: ModelNames }) {
  const pipelines = device.reported?.pipelines ?? [];
  if (pipelines.length === 0) return <span className="muted">none reported</span>;
  return (
    <span className="bundles">
      {pipelines.map((p) => (
        <span key={p.id} className="bundle" title={p.bundle ? `bundle ${p.bundle.sha256}` : undefined}>
          {pipelines.length > 1 ? <span className="muted">{p.id}: </span> : null}
          {p.bundle ? (
            <span data-testid="loaded-version">{models.get(p.bundle.modelVersionId) ?? shortSha(p.bundle.sha256)}</span>
          ) : (
            <span className="muted">no model</span>
          )}{" "}
          {p.status !== "loaded" ? <PipelineBadge pipeline={p} /> : null}
          {p.error ? (
            <Badge tone="danger" title={p.error.message}>
              {p.error.code}
            </Badge>
          ) : null}
        </span>
      ))}
    </span>
  );
}
