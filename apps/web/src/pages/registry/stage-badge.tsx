import type { ModelVersion } from "@kensa/contracts";
import { Badge, type Tone } from "../../ui";

const TONES: Record<ModelVersion["stage"], Tone> = {
  candidate: "info",
  approved: "success",
  rejected: "danger",
  archived: "neutral",
};

export function StageBadge({ model }: { model: ModelVersion }) {
  return (
    <>
      <Badge tone={TONES[model.stage]}>{model.stage}</Badge>
      {model.champion ? (
        <>
          {" "}
          <Badge tone="success" title="the approved model this project runs now">
            champion
          </Badge>
        </>
      ) : null}
    </>
  );
}
