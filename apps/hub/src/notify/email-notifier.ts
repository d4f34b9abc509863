import nodemailer from "nodemailer";
import type { HubConfig } from "../config.js";
import { driftMail } from "./drift-messages.js";
import {
  type Delivery,
  type DriftDelivery,
  type Notifier,
  PermanentDeliveryError,
  type RolloutDelivery,
} from "./notifier.js";
import { rolloutMail } from "./rollout-messages.js";

type SmtpConfig = NonNullable<HubConfig["smtp"]>;

/** The subset of a nodemailer transport we call. */
interface MailTransport {
  sendMail(mail: { from: string; to: string; subject: string; text: string }): Promise<unknown>;
  close(): void;
}

/** Incident, rollout and drift e-mails over SMTP; without an `smtp` config every e-mail fails with a clear reason. */
export class EmailNotifier implements Notifier {
  readonly type = "email" as const;
  #smtp: SmtpConfig | undefined;
  #transport: MailTransport | null = null;

  constructor(smtp: SmtpConfig | undefined) {
    this.#smtp = smtp;
  }

  async send({ notification, incident, project, incidentUrl }: Delivery): Promise<void> {
    const score = incident.score.toFixed(2);
    await this.#mail(
      notification.target,
      `[Kensa] ${project.name}: ${incident.label} (${score}) on ${incident.deviceId}`,
      [
        `Kensa raised an incident in project ${project.name} (${project.slug}).`,
        "",
        `  label    ${incident.label}`,
        `  score    ${score}`,
        `  device   ${incident.deviceId}`,
        `  rule     ${incident.rule}`,
        `  model    ${incident.modelVersionId}`,
        `  at       ${incident.createdAt}`,
        "",
        `Review it: ${incidentUrl}`,
        "",
      ].join("\n"),
    );
  }

  async sendRollout({ notification, notice, project, rolloutUrl }: RolloutDelivery): Promise<void> {
    const { subject, text } = rolloutMail(notice, project, rolloutUrl);
    await this.#mail(notification.target, subject, text);
  }

  async sendDrift({ notification, notice, runId, project, modelUrl }: DriftDelivery): Promise<void> {
    const { subject, text } = driftMail(notice, project, modelUrl, runId);
    await this.#mail(notification.target, subject, text);
  }

  async #mail(to: string, subject: string, text: string): Promise<void> {
    if (!this.#smtp) {
      throw new PermanentDeliveryError("no SMTP server configured: set `smtp` in the hub config to send e-mail");
    }
    this.#transport ??= nodemailer.createTransport({
      host: this.#smtp.host,
      port: this.#smtp.port,
      secure: this.#smtp.secure,
      ...(this.#smtp.user ? { auth: { user: this.#smtp.user, pass: this.#smtp.pass ?? "" } } : {}),
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 20_000,
    }) as MailTransport;
    await this.#transport.sendMail({ from: this.#smtp.from, to, subject, text });
  }

  async close(): Promise<void> {
    this.#transport?.close();
    this.#transport = null;
  }
}
