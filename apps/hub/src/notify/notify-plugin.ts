import { incidentRoutes } from "@kensa/contracts";
import fp from "fastify-plugin";
import { route } from "../http/route.js";
import type { NotificationService } from "./notification-service.js";

/** The notifications sent for incidents (who was told, by which channel, and whether it arrived). */
export const notifyPlugin = fp<{ notifications: NotificationService }>(
  async (app, { notifications }) => {
    route(app, incidentRoutes.listNotifications, async (req) => ({ items: await notifications.list(req.query) }));
  },
  { name: "kensa-notify", dependencies: ["kensa-http"], fastify: "5.x" },
);
