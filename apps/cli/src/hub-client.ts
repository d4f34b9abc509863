import { readFileSync } from "node:fs";
import type {
  CreateDeployment,
  CreateProject,
  CreateVerdict,
  Deployment,
  Device,
  EnrollDevice,
  EnrolledDevice,
  ErrorReply,
  HubStats,
  Incident,
  ModelManifest,
  ModelVersion,
  Project,
  Verdict,
} from "@kensa/contracts";
import { type ErrorCode, errorCatalog, KensaError } from "@kensa/contracts";

/** A typed client of the hub's HTTP API; shapes come only from the contracts. */
export class HubClient {
  readonly baseUrl: string;
  #token: string;

  constructor(baseUrl: string, token: string) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.#token = token;
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const init: RequestInit = { method, headers: { authorization: `Bearer ${this.#token}` } };
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)["content-type"] = "application/json";
    }
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}/api/v1${path}`, init);
    } catch (err) {
      throw new Error(`cannot reach the hub at ${this.baseUrl}: ${(err as Error).message}`);
    }
    const text = await res.text();
    const json: unknown = text ? JSON.parse(text) : null;
    if (!res.ok) {
      const e = (json as ErrorReply | null)?.error;
      const code = (e?.code && e.code in errorCatalog ? e.code : "KENSA_ERR_INTERNAL") as ErrorCode;
      throw new KensaError(code, e?.message ?? `${method} ${path} → HTTP ${res.status}`, e?.details);
    }
    return json as T;
  }

  createProject(
    p: Partial<CreateProject> & Pick<CreateProject, "slug" | "name" | "task" | "labels">,
  ): Promise<Project> {
    return this.#call("POST", "/projects", p);
  }
  listProjects(): Promise<{ items: Project[] }> {
    return this.#call("GET", "/projects");
  }
  enrollDevice(d: Partial<EnrollDevice> & Pick<EnrollDevice, "projectId">): Promise<EnrolledDevice> {
    return this.#call("POST", "/devices", d);
  }
  listDevices(): Promise<{ items: Device[] }> {
    return this.#call("GET", "/devices");
  }
  pushModel(projectId: string, onnx: Uint8Array, manifest: ModelManifest, name = "model.onnx"): Promise<ModelVersion> {
    const form = new FormData();
    form.set("projectId", projectId);
    form.set("manifest", JSON.stringify(manifest));
    form.set("model", new Blob([onnx], { type: "application/octet-stream" }), name);
    return this.#call("POST", "/models", form);
  }
  listModels(projectId?: string): Promise<{ items: ModelVersion[] }> {
    return this.#call("GET", `/models${projectId ? `?projectId=${encodeURIComponent(projectId)}` : ""}`);
  }
  deploy(d: Partial<CreateDeployment> & Pick<CreateDeployment, "modelVersionId">): Promise<Deployment> {
    return this.#call("POST", "/deployments", d);
  }
  listIncidents(q: { status?: string; projectId?: string; limit?: number } = {}): Promise<{ items: Incident[] }> {
    const qs = new URLSearchParams(Object.entries(q).map(([k, v]): [string, string] => [k, String(v)])).toString();
    return this.#call("GET", `/incidents${qs ? `?${qs}` : ""}`);
  }
  verdict(incidentId: string, v: CreateVerdict): Promise<Verdict> {
    return this.#call("POST", `/incidents/${encodeURIComponent(incidentId)}/verdict`, v);
  }
  stats(): Promise<HubStats> {
    return this.#call("GET", "/stats");
  }
}

/** Where the CLI finds the hub: flags, then env, then the local hub's defaults. */
export function hubClientFrom(opts: { hub?: string; token?: string; dataDir?: string }): HubClient {
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
  return new HubClient(url, token);
}
