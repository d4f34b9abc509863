import {
  type DeviceConfigRevision,
  type DeviceConfigView,
  KensaError,
  deviceConfigRoutes as routes,
} from "@kensa/contracts";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { actorOf, callingDevice, can } from "../http/request-auth.js";
import { route } from "../http/route.js";
import type { AuditLog } from "../people/audit-log.js";
import type { DeviceConfigService } from "./device-config-service.js";

/** What these routes use of the hub. */
export interface DeviceConfigRoutesDeps {
  audit: AuditLog;
  deviceConfigs: DeviceConfigService;
}

export function deviceConfigRoutesOf(app: FastifyInstance, s: DeviceConfigRoutesDeps): void {
  route(app, routes.getDeviceConfig, async (req) => {
    const view = await s.deviceConfigs.view(req.params.id);
    return can(req, "devices:manage") ? view : redactView(view);
  });
  route(app, routes.setDeviceConfig, async (req) => {
    const { config, comment } = req.body;
    const { view, revision, deliveredRev } = await s.deviceConfigs.setDevice(req.params.id, config, {
      comment,
      actor: actorOf(req).actor,
    });
    await s.audit.recordRequest(
      req,
      "device.config_set",
      { type: "device", id: req.params.id },
      { projectId: view.projectId, rev: revision.rev, sha256: revision.sha256, deliveredRev, comment: comment ?? null },
    );
    return view;
  });
  route(app, routes.deviceConfigHistory, async (req) => {
    const items = await s.deviceConfigs.history("device", req.params.id, req.query.limit);
    return { items: can(req, "devices:manage") ? items : items.map(redactRevision) };
  });
  route(app, routes.getDeliveredConfig, async (req) => {
    const device = callingDevice(req);
    // a device reads only its own config: another's may name its cameras' credentials
    if (!device || device.deviceId !== req.params.id) {
      throw new KensaError("KENSA_ERR_FORBIDDEN", "a device reads only its own config");
    }
    return s.deviceConfigs.delivered(device.deviceId);
  });
  route(app, routes.getProjectDeviceConfig, async (req) => {
    const view = await s.deviceConfigs.projectView(req.params.id);
    return can(req, "devices:manage") ? view : { ...view, config: view.config && redactRevision(view.config) };
  });
  route(app, routes.setProjectDeviceConfig, async (req) => {
    const { config, comment } = req.body;
    const { view, changedDevices } = await s.deviceConfigs.setProject(req.params.id, config, {
      comment,
      actor: actorOf(req).actor,
    });
    await s.audit.recordRequest(
      req,
      "project.device_config_set",
      { type: "project", id: req.params.id },
      { projectId: req.params.id, rev: view.config?.rev, sha256: view.config?.sha256, changedDevices },
    );
    return view;
  });
  route(app, routes.projectDeviceConfigHistory, async (req) => {
    const items = await s.deviceConfigs.history("project", req.params.id, req.query.limit);
    return { items: can(req, "devices:manage") ? items : items.map(redactRevision) };
  });
}

// Camera URLs carry credentials (rtsp://user:password@cam/…): people who may only read devices
// see the config with every URL's password masked; the sha256 stays that of the real config.
const URL_PASSWORD = /^([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@/\s]+@/i;

export function redactConfig<T>(value: T): T {
  if (typeof value === "string") return value.replace(URL_PASSWORD, "$1***@") as T;
  if (Array.isArray(value)) return value.map(redactConfig) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactConfig(v)])) as T;
  }
  return value;
}

function redactRevision(r: DeviceConfigRevision): DeviceConfigRevision {
  return { ...r, config: redactConfig(r.config) };
}

function redactView(v: DeviceConfigView): DeviceConfigView {
  return {
    ...v,
    device: v.device && redactRevision(v.device),
    project: v.project && redactRevision(v.project),
    delivered: v.delivered && { ...v.delivered, config: redactConfig(v.delivered.config) },
  };
}

/** Remote device configuration: device and project configs, their history, and the device's fetch. */
export const deviceConfigPlugin = fp<DeviceConfigRoutesDeps>(
  async (app, opts) => {
    deviceConfigRoutesOf(app, opts);
  },
  { name: "kensa-device-config", dependencies: ["kensa-http"], fastify: "5.x" },
);
