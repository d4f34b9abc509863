import type { KensaClient } from "@kensa/client";
import { type NotificationRouting, type Project, projectRoutes } from "@kensa/contracts";

export interface InspectionProjectOptions {
  slug: string;
  /** the slug when omitted */
  name?: string;
  /** minimum score of a `defect` that raises an incident; 0.5 by default */
  minScore?: number;
  /** who hears of incidents; the hub's defaults (no one, 300 s cool-down) when omitted */
  notifications?: Partial<NotificationRouting>;
}

/**
 * Creates a surface-inspection project: classification into `ok` and `defect` (the labels of
 * the hand-built blemish model and the synthetic cameras), where a `defect` raises an incident.
 */
export function createInspectionProject(client: KensaClient, opts: InspectionProjectOptions): Promise<Project> {
  const n = opts.notifications;
  return client.call(projectRoutes.create, {
    body: {
      slug: opts.slug,
      name: opts.name ?? opts.slug,
      task: "classification",
      labels: ["ok", "defect"],
      okLabels: ["ok"],
      rule: { type: "threshold", labels: ["defect"], minScore: opts.minScore ?? 0.5 },
      ...(n
        ? { notifications: { email: n.email ?? [], webhooks: n.webhooks ?? [], cooldownSec: n.cooldownSec ?? 300 } }
        : {}),
    },
  });
}
