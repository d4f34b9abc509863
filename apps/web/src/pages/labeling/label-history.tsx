import type { LabelRevision } from "@kensa/contracts";
import { Badge, TimeAgo } from "../../ui";

/**
 * Every revision of the sample's label, newest first, with who made it and how. Choosing one
 * previews it on the image; the current revision is the one the sample points at.
 */
export function LabelHistory({
  revisions,
  currentId,
  previewId,
  onPreview,
}: {
  revisions: readonly LabelRevision[];
  currentId: string | null;
  previewId: string | null;
  onPreview(id: string | null): void;
}) {
  if (revisions.length === 0) return <p className="muted">No revision yet: the sample has never been labeled.</p>;
  const newestFirst = [...revisions].sort((a, b) => b.rev - a.rev);
  return (
    <ol className="lab-history" aria-label="Label revisions">
      {newestFirst.map((r) => {
        const active = r.id === previewId;
        const boxes = r.content.objects.filter((o) => o.box).length;
        const masks = r.content.objects.filter((o) => o.mask).length;
        return (
          <li key={r.id}>
            <button
              type="button"
              className={`lab-rev${active ? " active" : ""}`}
              aria-pressed={active}
              onClick={() => onPreview(active ? null : r.id)}
              data-testid={`revision-${r.rev}`}
            >
              <span className="lab-rev-head">
                <strong>rev {r.rev}</strong>
                <Badge tone={r.status === "reviewed" ? "success" : "info"}>{r.status}</Badge>
                {r.id === currentId ? <Badge>current</Badge> : null}
              </span>
              <span className="lab-rev-who">
                {r.by} · {r.source} · <TimeAgo iso={r.createdAt} />
              </span>
              <span className="lab-rev-what muted">
                {r.content.classes.length ? r.content.classes.join(", ") : "no class"}
                {boxes ? ` · ${boxes} box${boxes > 1 ? "es" : ""}` : ""}
                {masks ? ` · ${masks} mask${masks > 1 ? "s" : ""}` : ""}
              </span>
            </button>
          </li>
        );
      })}
    </ol>
  );
}
