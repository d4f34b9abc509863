import { Type } from "@sinclair/typebox";
import { List } from "../common.js";
import { defineRoutes } from "../route.js";
import {
  DeliveredDeviceConfig,
  DeviceConfigRevision,
  DeviceConfigView,
  ProjectDeviceConfigView,
  SetDeviceConfig,
} from "./device-config.js";

const IdParams = Type.Object({ id: Type.String() });
const HistoryQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })) });

/** Remote configuration of devices: a versioned config per device over an optional project default. */
export const deviceConfigRoutes = defineRoutes({
  getDeviceConfig: {
    method: "GET",
    path: "/api/v1/devices/:id/config",
    summary: "A device's config: its own, its project's default, the two merged as sent, and what it applied",
    permission: "devices:read",
    params: IdParams,
    reply: DeviceConfigView,
    errors: ["KENSA_ERR_DEVICE_NOT_FOUND"],
  },
  setDeviceConfig: {
    method: "PUT",
    path: "/api/v1/devices/:id/config",
    summary: "Set a device's config (a new revision), validated, sent through its desired state and audited",
    permission: "devices:manage",
    params: IdParams,
    body: SetDeviceConfig,
    reply: DeviceConfigView,
    errors: ["KENSA_ERR_DEVICE_NOT_FOUND", "KENSA_ERR_DEVICE_CONFIG_INVALID"],
  },
  deviceConfigHistory: {
    method: "GET",
    path: "/api/v1/devices/:id/config/history",
    summary: "Revisions of a device's own config, newest first",
    permission: "devices:read",
    params: IdParams,
    query: HistoryQuery,
    reply: List(DeviceConfigRevision),
    errors: ["KENSA_ERR_DEVICE_NOT_FOUND"],
  },
  getDeliveredConfig: {
    method: "GET",
    path: "/api/v1/devices/:id/config/delivered",
    summary: "A device fetches the config its desired state names (its own only)",
    auth: "device",
    params: IdParams,
    reply: DeliveredDeviceConfig,
    errors: ["KENSA_ERR_DEVICE_NOT_FOUND"],
  },
  getProjectDeviceConfig: {
    method: "GET",
    path: "/api/v1/projects/:id/device-config",
    summary: "The project's default device config, merged under each device's own",
    permission: "devices:read",
    params: IdParams,
    reply: ProjectDeviceConfigView,
    errors: ["KENSA_ERR_PROJECT_NOT_FOUND"],
  },
  setProjectDeviceConfig: {
    method: "PUT",
    path: "/api/v1/projects/:id/device-config",
    summary: "Set the project's default device config (a new revision); every device of the project is sent its merge",
    permission: "devices:manage",
    params: IdParams,
    body: SetDeviceConfig,
    reply: ProjectDeviceConfigView,
    errors: ["KENSA_ERR_PROJECT_NOT_FOUND", "KENSA_ERR_DEVICE_CONFIG_INVALID"],
  },
  projectDeviceConfigHistory: {
    method: "GET",
    path: "/api/v1/projects/:id/device-config/history",
    summary: "Revisions of the project's default device config, newest first",
    permission: "devices:read",
    params: IdParams,
    query: HistoryQuery,
    reply: List(DeviceConfigRevision),
    errors: ["KENSA_ERR_PROJECT_NOT_FOUND"],
  },
});
