import { createHmac } from "node:crypto";
import type { ProjectRecord } from "../projects/project-service.js";
import { DRIFT_EVENT, driftPayload } from "./drift-messages.js";
import {
  type Delivery,
  type DriftDelivery,
  type Notifier,
  PermanentDeliveryError,
  type RolloutDelivery,
} from "./notifier.js";
import { rolloutEvent, rolloutPayload } from "./rollout-messages.js";

/** ms a receiver may take before the attempt counts as failed */
const TIMEOUT_MS = 10_000;

/**
 * Signed JSON POSTs. The signature covers "<timestamp>.<raw body>" so a receiver can reject
 * replays of old deliveries as well as forged ones. Incidents, rollout and drift alerts are signed alike;
 * `x-kensa-event` (and the body's `type`) tells them apart.
 */
export class WebhookNotifier implements Notifier {
  readonly type = "webhook" as const;

  async send({ notification, incident, project, signal }: Delivery): Promise<void> {
    const body = JSON.stringify({ type: "incident.created", deliveryId: notification.id, incident });
    await this.#post(project, notification, "incident.created", body, signal);
  }

  async sendRollout({ notification, notice, project, rolloutUrl, signal }: RolloutDelivery): Promise<void> {
    const body = JSON.stringify(rolloutPayload(notice, notification.id, rolloutUrl));
    await this.#post(project, notification, rolloutEvent(notice.kind), body, signal);
  }

  async sendDrift({ notification, notice, runId, project, modelUrl, signal }: DriftDelivery): Promise<void> {
    const body = JSON.stringify(driftPayload(notice, notification.id, modelUrl, runId));
    await this.#post(project, notification, DRIFT_EVENT, body, signal);
  }

  async #post(
    project: ProjectRecord,
    notification: { id: string; target: string },
    event: string,
    body: string,
    signal: AbortSignal,
  ): Promise<void> {
    const hook = project.notifications.webhooks.find((w) => w.url === notification.target);
    if (!hook) throw new PermanentDeliveryError(`webhook ${notification.target} is no longer in the project's routing`);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = createHmac("sha256", hook.secret).update(`${timestamp}.${body}`).digest("hex");
    let res: Response;
    try {
      res = await fetch(hook.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": "kensa-hub",
          "x-kensa-event": event,
          "x-kensa-delivery": notification.id,
          "x-kensa-timestamp": timestamp,
          "x-kensa-signature": `sha256=${signature}`,
        },
        body,
        redirect: "manual",
        signal: AbortSignal.any([signal, AbortSignal.timeout(TIMEOUT_MS)]),
      });
    } catch (err) {
      const cause = (err as Error & { cause?: Error }).cause;
      throw new Error(`POST ${hook.url} failed: ${cause?.message ?? (err as Error).message}`);
    }
    await res.body?.cancel().catch(() => {});
    if (res.status < 200 || res.status >= 300) throw new Error(`POST ${hook.url} answered HTTP ${res.status}`);
  }
}
