import mqtt, { type IClientOptions } from "mqtt";
import type { Hub } from "../src/index.js";

/** An API call over `app.inject` as the admin: the status and the parsed reply. */
export async function apiCall(
  hub: Hub,
  method: "GET" | "POST",
  url: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> & { code?: string } }> {
  const res = await hub.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${hub.adminToken}` },
    ...(body === undefined ? {} : { payload: body as Record<string, unknown> }),
  });
  const json = res.json() as Record<string, unknown> & { error?: { code: string } };
  // an error's code beside the reply, for short assertions
  return { status: res.statusCode, json: { ...json, ...(json.error ? { code: json.error.code } : {}) } };
}

/** Connects an MQTT client once (no reconnect); resolves on CONNACK, rejects with the error or refusal. */
export function mqttConnect(url: string, opts: IClientOptions): Promise<mqtt.MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, ...opts });
    c.once("connect", () => resolve(c));
    c.once("error", (err) => {
      c.end(true);
      reject(err);
    });
    c.once("close", () => reject(new Error("closed before CONNACK")));
  });
}

/** Resolves once the client's connection closes (or at once when it is closed already). */
export function closed(c: mqtt.MqttClient): Promise<void> {
  return c.connected ? new Promise((resolve) => c.once("close", () => resolve())) : Promise.resolve();
}
