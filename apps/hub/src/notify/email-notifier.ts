import nodemailer from "nodemailer";
import type { HubConfig } from "../config.js";
import { type Delivery, type Notifier, PermanentDeliveryError } from "./notifier.js";

type SmtpConfig = NonNullable<HubConfig["smtp"]>;

/** The subset of a nodemailer transport we call. */
interface MailTransport {
  sendMail(mail: { from: string; to: string; subject: string; text: string }): Promise<unknown>;
  close(): void;
}

/** Incident e-mails over SMTP; without an `smtp` config every e-mail fails with a clear reason. */
export class EmailNotifier implements Notifier {
  readonly type = "email" as const;
  #smtp: SmtpConfig | undefined;
  #transport: MailTransport | null = null;

  constructor(smtp: SmtpConfig | undefined) {
    this.#smtp = smtp;
  }

  async send({ notification, incident, project, incidentUrl }: Delivery): Promise<void> {
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
    const score = incident.score.toFixed(2);
    await this.#transport.sendMail({
      from: this.#smtp.from,
      to: notification.target,
      subject: `[Kensa] ${project.name}: ${incident.label} (${score}) on ${incident.deviceId}`,
      text: [
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
    });
  }

  async close(): Promise<void> {
    this.#transport?.close();
    this.#transport = null;
  }
}
