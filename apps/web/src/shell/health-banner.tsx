import { systemRoutes } from "@kensa/contracts";
import { ApiError, describeError } from "../api/client";
import { useQuery } from "../api/use-query";
import { TimeAgo } from "../ui";
import "./health-banner.css";

/** ms between health checks: a storage or broker failure shows within this long */
export const HEALTH_POLL_MS = 10_000;

/**
 * Above every page while the hub reports itself degraded (its database refuses events, it lost
 * its broker, …): each problem in words, its code to quote to support, and since when. Gone
 * with the next poll once the hub is well again.
 */
export function HealthBanner() {
  const q = useQuery(systemRoutes.health, undefined, { intervalMs: HEALTH_POLL_MS });
  // an answer that is an error is the hub speaking; no answer at all means it is out of reach
  const unreachable = q.error && !(q.error instanceof ApiError) ? describeError(q.error) : null;
  const problems = q.data?.status === "degraded" ? q.data.problems : [];
  if (!unreachable && problems.length === 0) return null;
  return (
    <section className="health-banner" role="alert" aria-labelledby="health-banner-title" data-testid="health-banner">
      <h2 id="health-banner-title" className="health-banner-title">
        <span aria-hidden="true">⚠ </span>
        {unreachable ? "The hub does not answer" : "The hub is degraded"}
      </h2>
      <ul className="health-banner-list">
        {unreachable ? (
          <li>
            <span className="health-banner-message">
              The console cannot reach the hub; what it shows may be out of date.
            </span>{" "}
            <code>{unreachable.code}</code>
          </li>
        ) : null}
        {problems.map((p) => (
          <li key={p.code} data-code={p.code}>
            <span className="health-banner-message">{p.message}</span>{" "}
            <span className="health-banner-meta">
              <code>{p.code}</code> · since <TimeAgo iso={p.since} />
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}
