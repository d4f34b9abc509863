import { randomBytes } from "node:crypto";
import type { ModelVersion } from "@kensa/contracts";
import { type SmtpSink, startSmtpSink, startWebhookSink, tempDir, type WebhookSink, waitFor } from "@kensa/testkit";
import { buildBlemishModel } from "@kensa/vision/graph";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DriftAlert, DriftWatch, type OnDrift } from "../src/drift/drift-service.js";
import type { Hub } from "../src/index.js";
import { type DriftNotification, DriftNotificationService, driftAlertsOf } from "../src/notify/drift-alerts.js";
import { driftMail } from "../src/notify/drift-messages.js";
import { ProjectService } from "../src/projects/project-service.js";
import { openSecretsAtRest } from "../src/system/secrets-at-rest.js";
import { backends, seed, startHub, type TestHub } from "./helpers.js";
import { type FakeGateway, startGateway } from "./sms-gateway-server.js";

const SECRET = "drift-webhook-secret-0123456789ab";
const list = await backends("drift-notifications");

let smtp: SmtpSink;
let hooks: WebhookSink;
let gw: FakeGateway;
beforeAll(async () => {
  smtp = await startSmtpSink();
  hooks = await startWebhookSink(SECRET);
  gw = await startGateway();
});
afterAll(async () => {
  await smtp.close();
  await hooks.close();
  await gw.close();
  for (const b of list) await b.cleanup();
});

interface DriftHook {
  type: string;
  deliveryId: string;
  at: string;
  drift: {
    projectId: string;
    modelVersionId: string;
    model: { name: string; version: number } | null;
    statistic: string;
    psi: number;
    threshold: number;
    windowHours: number;
    frames: number;
    runId: string | null;
    url: string;
  };
}

/**
 * The hub's `onDrift` as hub.ts connects it (driftAlertsOf with the hub's database, projects
 * whose webhook secrets open with the hub's key, the registry read through its API, and its
 * dispatcher).
 */
async function onDriftOf(hub: Hub): Promise<OnDrift> {
  const { box } = await openSecretsAtRest({ config: hub.config, env: process.env, store: hub.store, log: hub.app.log });
  const models = {
    get: async (id: string) => {
      const r = await hub.app.inject({
        method: "GET",
        url: `/api/v1/models/${id}`,
        headers: { authorization: `Bearer ${hub.adminToken}` },
      });
      if (r.statusCode !== 200) throw new Error(`GET model ${id}: ${r.statusCode}`);
      return r.json() as ModelVersion;
    },
  };
  const projects = new ProjectService(hub.store.db, box);
  return driftAlertsOf({ db: hub.store.db, projects, models, dispatcher: hub.dispatcher, log: hub.app.log });
}

async function uploadModel(t: TestHub, projectId: string): Promise<ModelVersion> {
  const model = buildBlemishModel({ width: 32, height: 32 });
  const form = new FormData();
  form.set("projectId", projectId);
  form.set("manifest", JSON.stringify(model.manifest));
  form.set("model", new Blob([model.onnx as BlobPart]), "press.onnx");
  const up = await t.call<ModelVersion>("POST", "/api/v1/models", { raw: form });
  expect(up.status).toBe(201);
  return up.json;
}

/** What the drift watch does before it hands an alert over: the `drift_alerts` row, then `onDrift`. */
async function raise(hub: Hub, onDrift: OnDrift, projectId: string, model: ModelVersion): Promise<DriftAlert> {
  const alert: DriftAlert = {
    projectId,
    modelVersionId: model.id,
    statistic: "luma",
    psi: 0.3127,
    threshold: 0.25,
    windowHours: 24,
    frames: 1840,
    runId: null,
    at: new Date().toISOString(),
  };
  await hub.store.db
    .insertInto("drift_alerts")
    .values({
      id: `dft_${randomBytes(12).toString("base64url")}`,
      project_id: projectId,
      model_version_id: model.id,
      statistic: alert.statistic,
      psi: alert.psi,
      threshold: alert.threshold,
      window_hours: alert.windowHours,
      run_id: null,
      created_at: alert.at,
    })
    .execute();
  await onDrift(alert);
  return alert;
}

const alertsOf = (hub: Hub, modelVersionId: string): Promise<DriftNotification[]> =>
  new DriftNotificationService(hub.store.db).list({ modelVersionId });
const hooksFor = (sink: WebhookSink, modelVersionId: string) =>
  sink.received.filter((h) => (h.json as DriftHook | null)?.drift?.modelVersionId === modelVersionId);
const settle = () => new Promise((r) => setTimeout(r, 400));

describe.each(list)("drift alerts ($name)", (backend) => {
  it("e-mails and signs a webhook for a drifted champion, and sends no SMS", async () => {
    const t = await startHub({
      database: backend.database(),
      smtp: { host: smtp.host, port: smtp.port, from: "hub@kensa.test" },
      notifications: { attempts: 3, backoffMs: 50 },
    });
    try {
      const slug = `drift-${backend.name}`;
      const mailTo = `quality-${backend.name}@plant.test`;
      const path = `/drift-${backend.name}`;
      const { projectId } = await seed(t.call, slug, [], {
        notifications: {
          email: [mailTo],
          webhooks: [{ url: hooks.url, secret: SECRET }],
          // the incident cooldown does not hold drift alerts back
          cooldownSec: 3600,
          sms: {
            gateway: { url: `${gw.url}${path}`, adapter: "generic", from: "KENSA", auth: { type: "none" } },
            recipients: [{ phone: "+491706666666" }],
          },
        },
      });
      const model = await uploadModel(t, projectId);
      const onDrift = await onDriftOf(t.hub);
      const alert = await raise(t.hub, onDrift, projectId, model);
      // stored before onDrift returned: the drift watch never hands the alert over again
      const planned = await alertsOf(t.hub, model.id);
      expect(planned.map((r) => r.channel).sort()).toEqual(["email", "webhook"]);
      const url = `${t.httpUrl}/registry/${model.id}`;

      const mail = await waitFor("drift e-mail", () => smtp.mails.find((m) => m.to.includes(mailTo)));
      expect(mail.from).toBe("hub@kensa.test");
      expect(mail.subject).toBe(
        `[Kensa] Project ${slug}: input drift on ${model.name} v${model.version} (luma PSI 0.31 > 0.25)`,
      );
      expect(mail.text).toContain(`model      ${model.name} v${model.version} (${model.id})`);
      expect(mail.text).toContain("drifted    luma: the brightness of the frames the model sees");
      expect(mail.text).toContain("PSI        0.313, threshold 0.25");
      expect(mail.text).toContain(`window     the last 24 hours before ${alert.at}`);
      expect(mail.text).toContain("frames     1840, every device pooled");
      expect(mail.text).toMatch(/retrain {4}none started yet/);
      expect(mail.text).toContain(`Open it: ${url}`);

      const hook = await waitFor("drift webhook", () => hooksFor(hooks, model.id)[0]);
      expect(hook.signatureValid).toBe(true);
      expect(hook.headers["x-kensa-event"]).toBe("model.drift");
      const body = hook.json as DriftHook;
      expect(hook.headers["x-kensa-delivery"]).toBe(body.deliveryId);
      expect(body).toEqual({
        type: "model.drift",
        deliveryId: planned.find((r) => r.channel === "webhook")!.id,
        at: alert.at,
        drift: {
          projectId,
          modelVersionId: model.id,
          model: { name: model.name, version: model.version },
          statistic: "luma",
          psi: 0.3127,
          threshold: 0.25,
          windowHours: 24,
          frames: 1840,
          runId: null,
          url,
        },
      });

      const sent = await waitFor("both recorded sent", async () => {
        const rows = await alertsOf(t.hub, model.id);
        return rows.every((r) => r.status === "sent") ? rows : null;
      });
      expect(sent.every((r) => r.kind === "drift" && r.attempts === 1 && r.sentAt !== null)).toBe(true);
      await settle();
      expect(gw.requests.filter((r) => r.path === path)).toHaveLength(0);
      expect(smtp.mails.filter((m) => m.to.includes(mailTo))).toHaveLength(1);
      expect(hooksFor(hooks, model.id)).toHaveLength(1);
    } finally {
      await t.close();
    }
  });

  it("retries a failing webhook and records its failure; the e-mail still goes", async () => {
    const t = await startHub({
      database: backend.database(),
      smtp: { host: smtp.host, port: smtp.port, from: "hub@kensa.test" },
      notifications: { attempts: 3, backoffMs: 50 },
    });
    const failing = await startWebhookSink(SECRET);
    failing.setStatus(500);
    try {
      const mailTo = `fail-${backend.name}@plant.test`;
      const { projectId } = await seed(t.call, `driftfail-${backend.name}`, [], {
        notifications: { email: [mailTo], webhooks: [{ url: failing.url, secret: SECRET }] },
      });
      const model = await uploadModel(t, projectId);
      await raise(t.hub, await onDriftOf(t.hub), projectId, model);
      const rows = await waitFor("webhook failed", async () => {
        const all = await alertsOf(t.hub, model.id);
        return all.find((r) => r.channel === "webhook")?.status === "failed" ? all : null;
      });
      const hook = rows.find((r) => r.channel === "webhook")!;
      expect(hook.attempts).toBe(3);
      expect(hook.lastError).toBe(`POST ${failing.url} answered HTTP 500`);
      // three signed tries of one delivery
      expect(failing.received).toHaveLength(3);
      expect(failing.received.every((h) => h.signatureValid)).toBe(true);
      expect(new Set(failing.received.map((h) => h.headers["x-kensa-delivery"]))).toEqual(new Set([hook.id]));
      expect((failing.received[0]!.json as DriftHook).type).toBe("model.drift");
      await waitFor("e-mail sent", async () =>
        (await alertsOf(t.hub, model.id)).find((r) => r.channel === "email")?.status === "sent" ? true : null,
      );
    } finally {
      await failing.close();
      await t.close();
    }
  });

  it("keeps an alert stored while no dispatcher runs and sends it after a restart, naming the run started since", async () => {
    const key = `restart-${randomBytes(3).toString("hex")}`;
    const config = {
      database: backend.database(key),
      smtp: { host: smtp.host, port: smtp.port, from: "hub@kensa.test" },
      notifications: { attempts: 3, backoffMs: 50 },
    };
    const dir = await tempDir("kensa-drift-restart-");
    const first = await startHub(config, { dir });
    const mailTo = `restart-${backend.name}@plant.test`;
    let model: ModelVersion;
    let alert: DriftAlert;
    try {
      const { projectId } = await seed(first.call, `driftstop-${backend.name}`, [], {
        notifications: { email: [mailTo], webhooks: [{ url: hooks.url, secret: SECRET }] },
      });
      model = await uploadModel(first, projectId);
      const onDrift = await onDriftOf(first.hub);
      // the hub goes down between the alert's commit and its sending (or the alert came before
      // the dispatcher started): the rows are all there is
      await first.hub.dispatcher.stop();
      alert = await raise(first.hub, onDrift, projectId, model);
      await settle();
      const rows = await alertsOf(first.hub, model.id);
      expect(rows.map((r) => `${r.channel}:${r.status}:${r.attempts}`).sort()).toEqual([
        "email:pending:0",
        "webhook:pending:0",
      ]);
      // what the trigger does right after handing the alert over
      await new DriftWatch({ db: first.hub.store.db }).started(alert, "run_drift_retrain_1");
    } finally {
      await first.close();
    }
    expect(smtp.mails.filter((m) => m.to.includes(mailTo))).toHaveLength(0);
    expect(hooksFor(hooks, model.id)).toHaveLength(0);

    const second = await startHub(config, { dir });
    try {
      const mail = await waitFor("e-mail after restart", () => smtp.mails.find((m) => m.to.includes(mailTo)));
      expect(mail.text).toContain("retrain    run_drift_retrain_1");
      expect(mail.text).toContain(`Open it: ${second.httpUrl}/registry/${model.id}`);
      const hook = await waitFor("webhook after restart", () => hooksFor(hooks, model.id)[0]);
      expect(hook.signatureValid).toBe(true);
      expect((hook.json as DriftHook).drift).toMatchObject({ runId: "run_drift_retrain_1", psi: alert.psi });
      await waitFor("both sent once", async () => {
        const rows = await alertsOf(second.hub, model.id);
        return rows.length === 2 && rows.every((r) => r.status === "sent" && r.attempts === 1) ? rows : null;
      });
      await settle();
      expect(smtp.mails.filter((m) => m.to.includes(mailTo))).toHaveLength(1);
      expect(hooksFor(hooks, model.id)).toHaveLength(1);
    } finally {
      await second.close();
      await dir.remove();
    }
  });
});

describe("drift alert messages", () => {
  const notice = {
    kind: "drift" as const,
    driftAlertId: null,
    projectId: "prj_1",
    modelVersionId: "mv_1",
    model: null,
    statistic: "score" as const,
    psi: 0.2504,
    threshold: 0.25,
    windowHours: 72,
    frames: 90,
    runId: null,
    at: "2026-12-07T02:00:00.000Z",
  };

  it("calls a score shift output drift, never rounds the PSI down to its threshold, and counts days", () => {
    const { subject, text } = driftMail(notice, { name: "Press", slug: "press" }, "https://hub/registry/mv_1", null);
    expect(subject).toBe("[Kensa] Press: output drift on mv_1 (score PSI 0.2504 > 0.25)");
    expect(text).toContain("model      mv_1\n");
    expect(text).toContain("window     the last 3 days before 2026-12-07T02:00:00.000Z");
    expect(text).toContain("Open it: https://hub/registry/mv_1");
  });
});
