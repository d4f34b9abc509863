import { readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { ApiError, KensaClient } from "@kensa/client";
import { type GateReport, KensaError, registryRoutes } from "@kensa/contracts";

/** Where the admin token of the last client came from, to say so when the hub refuses it. */
export interface TokenSource {
  hubUrl: string;
  /** "--token", "KENSA_ADMIN_TOKEN" or the file it was read from */
  from: "flag" | "env" | "file";
  file?: string;
  /** the first characters, to tell tokens apart without printing one */
  prefix: string;
}

let lastSource: TokenSource | null = null;

/** The token source of the last client made (null before any). */
export function lastTokenSource(): TokenSource | null {
  return lastSource;
}

/** Where the CLI finds the hub: flags, then env, then the local hub's defaults. */
export function hubClientFrom(opts: { hub?: string; token?: string; dataDir?: string }): KensaClient {
  const hubUrl = opts.hub || process.env.KENSA_HUB_URL || "http://127.0.0.1:8080";
  let token = opts.token;
  let from: TokenSource["from"] = "flag";
  let file: string | undefined;
  if (!token && process.env.KENSA_ADMIN_TOKEN) {
    token = process.env.KENSA_ADMIN_TOKEN;
    from = "env";
  }
  if (!token) {
    from = "file";
    file = resolve(opts.dataDir ?? ".kensa/hub", "admin-token");
    try {
      token = readFileSync(file, "utf8").trim();
    } catch {
      throw new KensaError(
        "KENSA_ERR_UNAUTHORIZED",
        `no admin token: pass --token, set KENSA_ADMIN_TOKEN, or run beside a hub whose ${file} exists (or pass its --data-dir)`,
      );
    }
  }
  lastSource = { hubUrl, from, file, prefix: token.slice(0, 4) };
  return new KensaClient({ baseUrl: hubUrl, auth: { kind: "bearer", token } });
}

/** Lines that say which token the hub refused, where it came from, and how to fix it. */
export function tokenHint(source: TokenSource): string[] {
  const which = `the token used (${source.prefix}…)`;
  if (source.from === "flag") {
    return [
      `${which} came from --token; ${source.hubUrl} does not take it: pass the hub's admin token or an API token`,
    ];
  }
  if (source.from === "env") {
    return [
      `${which} came from the environment variable KENSA_ADMIN_TOKEN; ${source.hubUrl} does not take it:`,
      "  set it to the hub's admin token (or unset it to use the data dir's admin-token file), or pass --token",
    ];
  }
  let written = "";
  try {
    written = ` (written ${statSync(source.file ?? "").mtime.toISOString()})`;
  } catch {}
  return [
    `${which} came from the file ${source.file}${written}; ${source.hubUrl} does not take it.`,
    "  The file is from an earlier or failed start of a hub with this data dir, or the hub at that URL",
    "  uses another data dir or token: delete the file (the hub writes a new one on its next start),",
    "  pass that hub's --data-dir, or pass --token / set KENSA_ADMIN_TOKEN",
  ];
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
