import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type DatasetImport, type Event, type Incident, type Project, topics } from "@kensa/contracts";
import { createHub, type Hub } from "@kensa/hub";
import { startScenarioHub } from "@kensa/scenario";
import { renderFrame, type SynthOptions, writeSyntheticDataset } from "@kensa/synth";
import { waitFor } from "@kensa/testkit";
import mqtt from "mqtt";
import type { Page } from "playwright-core";
import { tarDirectory } from "../../apps/cli/src/commands/dataset-tar.js";

/**
 * Helpers of the machine-learning pages' browser tests (test/web/ml-*.test.ts): a real hub with
 * its trainer worker, the admin API, incidents raised the way devices raise them, and synthetic
 * datasets imported the way the CLI imports them. Browser and build helpers are the console's
 * (support/console-harness.ts).
 */

export interface MlHub {
  hub: Hub;
  url: string;
  mqttUrl: string;
  api: AdminApi;
}

/** A hub on ephemeral ports in `dir`, polling its job queue often so runs start at once. */
export async function startMlHub(dir: string): Promise<MlHub> {
  const { hub, httpUrl, mqttUrl } = await startScenarioHub({
    createHub,
    dataDir: join(dir, "hub"),
    config: { training: { workers: 1, pollMs: 100, killGraceMs: 2000 } },
  });
  return { hub, url: httpUrl, mqttUrl, api: adminApi(httpUrl, hub.adminToken) };
}

export interface AdminApi {
  /** JSON in, JSON out, with the admin token; throws on a status other than `expect` */
  call<T>(method: string, path: string, body?: unknown, expect?: number): Promise<T>;
  get<T>(path: string): Promise<T>;
}

export function adminApi(baseUrl: string, token: string): AdminApi {
  const call = async <T>(method: string, path: string, body?: unknown, expect?: number): Promise<T> => {
    const res = await fetch(`${baseUrl}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (expect !== undefined ? res.status !== expect : !res.ok) {
      throw new Error(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 500)}`);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  };
  return { call, get: (path) => call("GET", path) };
}

/**
 * Raises an incident the way an agent does: the event over MQTT with the device's own
 * credentials, then the frame over HTTP; resolves once the hub made the incident and linked
 * its media.
 */
export async function raiseIncident(
  m: MlHub,
  device: { id: string; secret: string },
  frame: { jpeg: Buffer; width: number; height: number },
  result: { label: string; score: number },
): Promise<Incident> {
  const event: Event = {
    v: 1,
    id: `evt-${randomBytes(8).toString("hex")}`,
    seq: 1,
    deviceId: device.id,
    pipeline: "default",
    sourceId: "cam",
    ts: new Date().toISOString(),
    bundle: { sha256: "a".repeat(64), modelVersionId: "mdl_test" },
    frame: { width: frame.width, height: frame.height, meta: {} },
    result: {
      task: "classification",
      label: result.label,
      score: result.score,
      scores: { ok: 1 - result.score, [result.label]: result.score },
      finding: result.label !== "ok",
    },
    latencyMs: { preprocess: 1, inference: 2, total: 3 },
    media: true,
  };
  const client = await mqtt.connectAsync(m.mqttUrl, {
    username: device.id,
    password: device.secret,
    reconnectPeriod: 0,
    connectTimeout: 5000,
  });
  try {
    await client.publishAsync(topics.events(device.id), JSON.stringify(event), { qos: 1 });
  } finally {
    await client.endAsync();
  }
  const basic = `Basic ${Buffer.from(`${device.id}:${device.secret}`).toString("base64")}`;
  const media = await fetch(`${m.url}/api/v1/events/${event.id}/media`, {
    method: "PUT",
    headers: { authorization: basic, "content-type": "image/jpeg" },
    body: new Uint8Array(frame.jpeg),
  });
  if (media.status !== 201) throw new Error(`media upload: HTTP ${media.status} ${await media.text()}`);
  return waitFor(`the incident of ${event.id}`, async () => {
    const list = await m.api.get<{ items: Incident[] }>(`/incidents?deviceId=${device.id}&limit=100`);
    return list.items.find((i) => i.eventId === event.id && i.mediaSha256);
  });
}

/** A synthetic frame with a visible defect (and where it is, px), for incidents a person then judges. */
export async function defectFrame(
  seed: number,
  size = 320,
): Promise<{ jpeg: Buffer; width: number; height: number; defect: [x: number, y: number, w: number, h: number] }> {
  const opts: SynthOptions = { seed, width: size, height: Math.round((size * 3) / 4), defectRate: 1 };
  for (let i = 0; ; i++) {
    const f = await renderFrame(i, opts);
    if (f.defect) return { jpeg: f.jpeg, width: f.width, height: f.height, defect: f.defect.box };
  }
}

/**
 * Writes an ImageFolder dataset with `writeSyntheticDataset` (classes "ok" and the one defect
 * type) and imports it into the project as the CLI does: the folder packed as tar, waited for.
 */
export async function importSyntheticDataset(
  m: MlHub,
  project: Project,
  dir: string,
  opts: { count: number; seed: number; size: number; defect: "scratch" | "spot" | "stain" },
): Promise<DatasetImport> {
  await writeSyntheticDataset(dir, {
    format: "imagefolder",
    count: opts.count,
    seed: opts.seed,
    width: opts.size,
    height: opts.size,
    defectRate: 0.5,
    defects: [opts.defect],
  });
  const { stream } = await tarDirectory(dir);
  const res = await fetch(`${m.url}/api/v1/projects/${project.id}/imports?format=imagefolder&groupKey=none&wait=true`, {
    method: "POST",
    headers: { authorization: `Bearer ${m.hub.adminToken}`, "content-type": "application/octet-stream" },
    body: stream,
    duplex: "half",
  } as RequestInit);
  const job = (await res.json()) as DatasetImport;
  if (job.status !== "succeeded" || !job.result || job.result.failed.length) {
    throw new Error(`import: ${res.status} ${JSON.stringify(job).slice(0, 800)}`);
  }
  return job;
}

/** KENSA_PYTHON, else Debian's interpreter (where python3-torch installs), else python3 on PATH. */
export const PYTHON = process.env.KENSA_PYTHON ?? (existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3");

/** Whether the built-in trainer can run here (PyTorch, torchvision, ONNX and Pillow import). */
export function torchAvailable(): boolean {
  try {
    execFileSync(PYTHON, ["-c", "import torch, torchvision, onnx, PIL"], { stdio: "ignore", timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
}

/** Readies a page for a screenshot: no chart tooltip under the pointer, no toast over the content. */
export async function settle(page: Page): Promise<void> {
  await page.mouse.move(0, 0);
  for (const b of await page.getByRole("button", { name: "Dismiss" }).all()) await b.click().catch(() => {});
}
