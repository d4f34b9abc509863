import { registryRoutes } from "@kensa/contracts";
import { hub } from "../../api/client";
import { useQuery } from "../../api/use-query";
import { ErrorState, Loading } from "../../ui";
import { MarkdownView } from "./markdown-view";

/**
 * The hub's model card: Markdown generated from the registry's records, so it cannot drift
 * from them. Give it a `key` that changes with a decision or gate report to re-read it.
 */
export function ModelCardView({ modelId }: { modelId: string }) {
  const card = useQuery(registryRoutes.card, { params: { id: modelId } });
  if (card.error) return <ErrorState error={card.error} onRetry={card.reload} />;
  if (typeof card.data !== "string") return <Loading label="Loading the model card" />;
  return (
    <article aria-label="Model card" data-testid="model-card" className="stack">
      <MarkdownView source={card.data} />
      <p>
        <a href={hub.url(registryRoutes.card, { params: { id: modelId } })} download={`${modelId}-card.md`}>
          Download the card (Markdown)
        </a>
      </p>
    </article>
  );
}
