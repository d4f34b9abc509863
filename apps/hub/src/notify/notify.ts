import type { Kysely } from "kysely";
import type { HubConfig } from "../config.js";
import type { HubDatabase } from "../db/schema.js";
import type { HubUrls } from "../http/hub-urls.js";
import type { Logger } from "../logger.js";
import type { ProjectService } from "../projects/project-service.js";
import { EmailNotifier } from "./email-notifier.js";
import { NotificationDispatcher } from "./notification-dispatcher.js";
import { NotificationService } from "./notification-service.js";
import type { Notifier } from "./notifier.js";
import type { IncidentLookup } from "./ports.js";
import { SmsNotifier } from "./sms-notifier.js";
import { WebhookNotifier } from "./webhook-notifier.js";

/** Notifications: who is told of an incident (planned with it), and their delivery with retries. */
export interface Notify {
  notifications: NotificationService;
  dispatcher: NotificationDispatcher;
}

export function createNotify(deps: {
  db: Kysely<HubDatabase>;
  config: Pick<HubConfig, "smtp" | "notifications" | "sms">;
  projects: ProjectService;
  /** read when a notification is sent */
  incidents: IncidentLookup;
  urls: HubUrls;
  log: Logger;
  /** replace notifiers by type; e-mail (SMTP), signed webhooks and SMS gateways by default */
  notifiers?: readonly Notifier[];
}): Notify {
  const notifiers = new Map<string, Notifier>([
    ["email", new EmailNotifier(deps.config.smtp)],
    ["webhook", new WebhookNotifier()],
    ["sms", new SmsNotifier(deps.config.sms, deps.config.notifications.attempts)],
  ]);
  for (const n of deps.notifiers ?? []) notifiers.set(n.type, n);
  return {
    notifications: new NotificationService(deps.db),
    dispatcher: new NotificationDispatcher({
      db: deps.db,
      notifiers: [...notifiers.values()],
      projects: deps.projects,
      incidents: deps.incidents,
      urls: deps.urls,
      log: deps.log,
      options: deps.config.notifications,
    }),
  };
}
