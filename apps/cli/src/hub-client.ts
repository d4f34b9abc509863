import { readFileSync } from "node:fs";
import { ApiError, KensaClient } from "@kensa/client";
import { type GateReport, registryRoutes } from "@kensa/contracts";

/** Where the CLI finds the hub: flags, then env, then the local hub's defaults. */
export function hubClientFrom(opts: { hub?: string; token?: string; dataDir?: string }): KensaClient {
  const url = opts.hub ?? process.env.KENSA_HUB_URL ?? "http://127.0.0.1:8080";
  let token = opts.token ?? process.env.KENSA_ADMIN_TOKEN;
  if (!token) {
    const file = `${opts.dataDir ?? ".kensa/hub"}/admin-token`;
    try {
      token = readFileSync(file, "utf8").trim();
    } catch {
      throw new Error(`no admin token: pass --token, set KENSA_ADMIN_TOKEN, or run beside a hub whose ${file} exists`);
    }
  }
  return new KensaClient({ baseUrl: url, auth: { kind: "bearer", token } });
}

/** The call's reply, or null when the hub answers `code` (e.g. a gate report that does not exist yet). */
export async function unlessCode<T>(call: Promise<T>, code: string): Promise<T | null> {
  try {
    return await call;
  } catch (err) {
    if (err instanceof ApiError && err.code === code) return null;
    throw err;
  }
}

/** A model version's gate report, or null while the gate has not decided on it. */
export function gateReportOf(client: KensaClient, modelVersionId: string): Promise<GateReport | null> {
  return unlessCode(client.call(registryRoutes.gate, { params: { id: modelVersionId } }), "KENSA_ERR_GATE_NOT_FOUND");
}
