import { severityOf } from "@kensa/contracts";
import type { SmsConfig } from "../config/sms-config.js";
import type { ProjectRecord } from "../projects/project-service.js";
import { type Delivery, type Notifier, PermanentDeliveryError, type RolloutDelivery } from "./notifier.js";
import { ROLLOUT_SMS_SEVERITY, rolloutEvent, rolloutSms } from "./rollout-messages.js";
import { authHeaders, type SmsMessage, smsAdapters } from "./sms-adapters.js";
import { countSms } from "./sms-metrics.js";
import { smsText } from "./sms-text.js";

/** Codes that head `lastError` when a gateway fails, so the record says which failure it was. */
export const SMS_REJECTED = "KENSA_ERR_SMS_GATEWAY_REJECTED";
export const SMS_UNAVAILABLE = "KENSA_ERR_SMS_GATEWAY_UNAVAILABLE";

/** 4xx answers worth another try: the gateway asks to slow down, or timed out reading us. */
const RETRYABLE_4XX = new Set([408, 429]);

/** A gateway's answer, cut to what fits in a record. */
async function answerOf(res: Response): Promise<string> {
  const text = await res.text().catch(() => "");
  const one = text.replace(/\s+/g, " ").trim();
  return one.length > 200 ? `${one.slice(0, 200)}…` : one;
}

/**
 * Text messages through the project's HTTP gateway. A 2xx answer is delivery; a 4xx (except
 * 408 and 429) is the gateway refusing this message, which retrying cannot fix, so it fails at
 * once; 5xx, 408, 429, timeouts and refused connections are retried by the dispatcher with its
 * backoff, and the last one fails the notification.
 */
export class SmsNotifier implements Notifier {
  readonly type = "sms" as const;
  #config: SmsConfig;
  #attempts: number;

  /** `attempts`: the dispatcher's attempts per notification, to tell a final failure from a retry */
  constructor(config: SmsConfig, attempts: number) {
    this.#config = config;
    this.#attempts = attempts;
  }

  async send({ notification, incident, project, incidentUrl, signal }: Delivery): Promise<void> {
    const severity = severityOf(incident, project.notifications);
    const text = smsText({ severity, project: project.slug, incident, url: incidentUrl }, this.#config.maxChars);
    await this.#deliver(project, notification, signal, text, {
      severity,
      project: project.slug,
      device: incident.deviceId,
      label: incident.label,
      incidentId: incident.id,
      url: incidentUrl,
    });
  }

  async sendRollout({ notification, notice, project, rolloutUrl, signal }: RolloutDelivery): Promise<void> {
    const text = rolloutSms(notice, project.slug, rolloutUrl, this.#config.maxChars);
    await this.#deliver(project, notification, signal, text, {
      severity: ROLLOUT_SMS_SEVERITY,
      project: project.slug,
      device: notice.wave.deviceIds.join(","),
      label: rolloutEvent(notice.kind),
      incidentId: "",
      url: rolloutUrl,
      rolloutId: notice.rolloutId,
      event: rolloutEvent(notice.kind),
    });
  }

  async #deliver(
    project: ProjectRecord,
    notification: { target: string; attempts: number },
    signal: AbortSignal,
    text: string,
    vars: SmsMessage["vars"],
  ): Promise<void> {
    const sms = project.notifications.sms;
    const recipient = sms?.recipients.find((r) => r.phone === notification.target);
    if (!sms || !recipient) {
      countSms("rejected");
      throw new PermanentDeliveryError(`SMS recipient ${notification.target} is no longer in the project's routing`);
    }
    const req = smsAdapters[sms.gateway.adapter](sms.gateway, { to: recipient.phone, text, vars });
    const target = `${req.method} ${req.url}`;
    let res: Response;
    try {
      res = await fetch(req.url, {
        method: req.method,
        headers: { ...req.headers, ...authHeaders(sms.gateway.auth), "user-agent": "kensa-hub" },
        body: req.body,
        redirect: "manual",
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.#config.timeoutMs)]),
      });
    } catch (err) {
      const e = err as Error & { cause?: Error };
      const why =
        e.name === "TimeoutError" ? `no answer within ${this.#config.timeoutMs} ms` : (e.cause?.message ?? e.message);
      throw this.#unavailable(notification.attempts, `${target} failed: ${why}`);
    }
    if (res.status >= 200 && res.status < 300) {
      await res.body?.cancel().catch(() => {});
      countSms("sent");
      return;
    }
    const answer = await answerOf(res);
    const said = `${target} answered HTTP ${res.status}${answer ? `: ${answer}` : ""}`;
    // a redirect is a wrong URL here (redirects are not followed): no retry fixes it either
    if (res.status < 500 && !RETRYABLE_4XX.has(res.status)) {
      countSms("rejected");
      throw new PermanentDeliveryError(`${SMS_REJECTED}: ${said}`);
    }
    throw this.#unavailable(notification.attempts, said);
  }

  /** A retryable failure, counted as a retry or, on the last attempt, as the gateway unavailable. */
  #unavailable(attemptsBefore: number, message: string): Error {
    countSms(attemptsBefore + 1 >= this.#attempts ? "unavailable" : "retried");
    return new Error(`${SMS_UNAVAILABLE}: ${message}`);
  }
}
