import { createHmac } from "node:crypto";
import type { ModelVersion, NotificationRouting, Rollout } from "@kensa/contracts";
import { type SmtpSink, startSmtpSink, startWebhookSink, type WebhookSink, waitFor } from "@kensa/testkit";
import { buildBlemishModel } from "@kensa/vision/graph";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RolloutNotification, RolloutNotificationService } from "../src/notify/rollout-alerts.js";
import { planSms } from "../src/notify/sms-planner.js";
import { backends, seed, startHub, type TestHub } from "./helpers.js";
import { type FakeGateway, startGateway } from "./sms-gateway-server.js";

const SECRET = "rollout-webhook-secret-0123456789";
const ALICE = "+491703333333";
const list = await backends("rollout-notifications");

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

interface RolloutHook {
  type: string;
  deliveryId: string;
  at: string;
  by: string;
  reason: string;
  rollout: {
    id: string;
    modelVersionId: string;
    model: { name: string; version: number } | null;
    championModelVersionId: string | null;
    champion: { name: string; version: number } | null;
    state: string;
    wave: { index: number; of: number; state: string; deviceIds: string[] };
    url: string;
  };
  breached: Array<{ gate: string; detail: string }>;
}

/** The project's devices run `champion`; returns it and an approved `challenger` of the same project. */
async function championAndChallenger(t: TestHub, projectId: string): Promise<[ModelVersion, ModelVersion]> {
  const out: ModelVersion[] = [];
  for (const width of [32, 48]) {
    const model = buildBlemishModel({ width, height: width });
    const form = new FormData();
    form.set("projectId", projectId);
    form.set("manifest", JSON.stringify(model.manifest));
    form.set("model", new Blob([model.onnx as BlobPart]), "press.onnx");
    const up = await t.call<ModelVersion>("POST", "/api/v1/models", { raw: form });
    expect(up.status).toBe(201);
    const ok = await t.call("POST", `/api/v1/models/${up.json.id}/approve`, {
      body: { by: "qa", reason: "passed the gate", deploy: false },
    });
    expect(ok.status).toBe(200);
    out.push(up.json);
  }
  const [champion, challenger] = out as [ModelVersion, ModelVersion];
  const dep = await t.call("POST", "/api/v1/deployments", {
    body: { modelVersionId: champion.id, target: { tags: ["line"] } },
  });
  expect(dep.status).toBe(201);
  return [champion, challenger];
}

async function createRollout(t: TestHub, modelVersionId: string, extra: Record<string, unknown> = {}) {
  const r = await t.call<Rollout>("POST", "/api/v1/rollouts", {
    body: { modelVersionId, target: { tags: ["line"] }, ...extra },
  });
  expect(r.status, JSON.stringify(r.json)).toBe(201);
  return r.json;
}

async function act(t: TestHub, id: string, verb: string, reason?: string): Promise<Rollout> {
  const r = await t.call<Rollout>("POST", `/api/v1/rollouts/${id}/${verb}`, { body: reason ? { reason } : {} });
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return r.json;
}

const alertsOf = (t: TestHub, rolloutId: string): Promise<RolloutNotification[]> =>
  new RolloutNotificationService(t.hub.store.db).list({ rolloutId });
const hooksFor = (sink: WebhookSink, rolloutId: string) =>
  sink.received.filter((h) => (h.json as RolloutHook | null)?.rollout?.id === rolloutId);
const smsTo = (path: string) => gw.requests.filter((r) => r.path === path);
const settle = () => new Promise((r) => setTimeout(r, 400));

describe.each(list)("rollout alerts ($name)", (backend) => {
  it("e-mails, signs webhooks and texts a person's pause and rollback; running and an abort send no SMS", async () => {
    const t = await startHub({
      database: backend.database(),
      smtp: { host: smtp.host, port: smtp.port, from: "hub@kensa.test" },
      notifications: { attempts: 3, backoffMs: 50 },
    });
    try {
      const slug = `roll-${backend.name}`;
      const mailTo = `line-${backend.name}@plant.test`;
      const path = `/roll-${backend.name}`;
      const devices = ["a", "b", "c"].map((x) => ({ id: `${slug}-${x}`, tags: ["line"] }));
      const { projectId } = await seed(t.call, slug, devices, {
        notifications: {
          email: [mailTo],
          webhooks: [{ url: hooks.url, secret: SECRET }],
          // the incident cooldown does not hold rollout alerts back
          cooldownSec: 3600,
          sms: {
            gateway: { url: `${gw.url}${path}`, adapter: "generic", from: "KENSA", auth: { type: "none" } },
            recipients: [{ phone: ALICE }],
          },
        },
      });
      const [champion, challenger] = await championAndChallenger(t, projectId);
      const rollout = await createRollout(t, challenger.id, { strategy: { canaryPercent: 34, bakeSeconds: 3600 } });
      expect(rollout.state).toBe("running");
      const url = `${t.httpUrl}/rollouts/${rollout.id}`;

      // started and running: nobody is told
      await settle();
      expect(await alertsOf(t, rollout.id)).toEqual([]);
      expect(smtp.mails.filter((m) => m.to.includes(mailTo))).toHaveLength(0);

      await act(t, rollout.id, "pause", "line stops for cleaning");
      const mail = await waitFor("pause e-mail", () => smtp.mails.find((m) => m.to.includes(mailTo)));
      expect(mail.from).toBe("hub@kensa.test");
      expect(mail.subject).toBe(
        `[Kensa] Project ${slug}: rollout of ${challenger.name} v${challenger.version} paused (wave 1 of ${rollout.waves.length})`,
      );
      expect(mail.text).toContain(`rollout   ${rollout.id}`);
      expect(mail.text).toContain(`model     ${challenger.name} v${challenger.version} (${challenger.id})`);
      expect(mail.text).toContain(`champion  ${champion.name} v${champion.version} (${champion.id})`);
      expect(mail.text).toContain("by        admin-token");
      expect(mail.text).toContain("Why: line stops for cleaning");
      expect(mail.text).toContain(`Open it: ${url}`);

      const hook = await waitFor("pause webhook", () => hooksFor(hooks, rollout.id)[0]);
      const ts = hook.headers["x-kensa-timestamp"] as string;
      const want = createHmac("sha256", SECRET).update(`${ts}.${hook.body}`).digest("hex");
      expect(hook.headers["x-kensa-signature"]).toBe(`sha256=${want}`);
      expect(hook.signatureValid).toBe(true);
      expect(hook.headers["x-kensa-event"]).toBe("rollout.paused");
      const body = hook.json as RolloutHook;
      expect(hook.headers["x-kensa-delivery"]).toBe(body.deliveryId);
      expect(body).toMatchObject({ type: "rollout.paused", by: "admin-token", reason: "line stops for cleaning" });
      expect(body.rollout).toMatchObject({
        id: rollout.id,
        state: "paused",
        modelVersionId: challenger.id,
        model: { name: challenger.name, version: challenger.version },
        championModelVersionId: champion.id,
        champion: { name: champion.name, version: champion.version },
        wave: { index: 0, of: rollout.waves.length, state: "baking", deviceIds: rollout.waves[0]!.deviceIds },
        url,
      });
      expect(body.breached).toEqual([]);

      const text = await waitFor("pause SMS", () => smsTo(path)[0]);
      const sms = JSON.parse(text.body) as { to: string; text: string };
      expect(sms.to).toBe(ALICE);
      expect(sms.text).toMatch(/^ROLLOUT PAUSED /);
      expect(sms.text.endsWith(url)).toBe(true);

      const paused = await waitFor("all three sent", async () => {
        const rows = await alertsOf(t, rollout.id);
        return rows.length === 3 && rows.every((r) => r.status === "sent") ? rows : null;
      });
      expect(paused.map((r) => r.channel).sort()).toEqual(["email", "sms", "webhook"]);
      expect(paused.every((r) => r.kind === "paused" && r.attempts === 1 && r.sentAt !== null)).toBe(true);

      // resumed: running again, and nobody is told
      await act(t, rollout.id, "resume");
      await settle();
      expect(await alertsOf(t, rollout.id)).toHaveLength(3);
      expect(hooksFor(hooks, rollout.id)).toHaveLength(1);

      await act(t, rollout.id, "rollback", "false alarms on the night shift");
      const back = await waitFor("rollback webhook", () => hooksFor(hooks, rollout.id)[1]);
      expect(back.signatureValid).toBe(true);
      expect(back.headers["x-kensa-event"]).toBe("rollout.rolled_back");
      expect(back.json).toMatchObject({ type: "rollout.rolled_back", reason: "false alarms on the night shift" });
      const mail2 = await waitFor("rollback e-mail", () =>
        smtp.mails.find((m) => m.to.includes(mailTo) && m.subject.includes("rolled back")),
      );
      expect(mail2.text).toContain("Why: false alarms on the night shift");
      await waitFor("rollback SMS", () => smsTo(path)[1]);
      expect(JSON.parse(smsTo(path)[1]!.body).text).toMatch(/^ROLLOUT ROLLED BACK /);

      // an abort is told by e-mail and webhook, not by text message
      const planned = await createRollout(t, challenger.id, { start: false });
      await act(t, planned.id, "abort", "wrong line");
      const aborted = await waitFor("abort sent", async () => {
        const rows = await alertsOf(t, planned.id);
        return rows.length > 0 && rows.every((r) => r.status === "sent") ? rows : null;
      });
      expect(aborted.map((r) => `${r.kind}:${r.channel}`).sort()).toEqual(["aborted:email", "aborted:webhook"]);
      await settle();
      expect(smsTo(path)).toHaveLength(2);
      expect(smtp.mails.filter((m) => m.to.includes(mailTo))).toHaveLength(3);
    } finally {
      await t.close();
    }
  });

  it("the hub's own pause: retries a failing webhook, records its failure, holds the SMS for quiet hours", async () => {
    const t = await startHub({
      database: backend.database(),
      smtp: { host: smtp.host, port: smtp.port, from: "hub@kensa.test" },
      notifications: { attempts: 3, backoffMs: 50 },
    });
    const failing = await startWebhookSink(SECRET);
    failing.setStatus(500);
    try {
      const slug = `hubpause-${backend.name}`;
      const mailTo = `ops-${backend.name}@plant.test`;
      const path = `/quiet-${backend.name}`;
      const hhmm = (ms: number) => new Date(Date.now() + ms).toISOString().slice(11, 16);
      const devices = ["a", "b"].map((x) => ({ id: `${slug}-${x}`, tags: ["line"] }));
      const { projectId } = await seed(t.call, slug, devices, {
        notifications: {
          email: [mailTo],
          webhooks: [{ url: failing.url, secret: SECRET }],
          cooldownSec: 0,
          sms: {
            gateway: { url: `${gw.url}${path}`, adapter: "generic", from: "KENSA", auth: { type: "none" } },
            recipients: [{ phone: ALICE }],
            // now is inside the window, which ends in two hours
            quietHours: { start: hhmm(-3_600_000), end: hhmm(7_200_000), timeZone: "UTC", override: ["critical"] },
          },
        },
      });
      const [, challenger] = await championAndChallenger(t, projectId);
      // no agents report, so the canary lacks evidence; past 1 s the hub pauses the rollout itself
      const rollout = await createRollout(t, challenger.id, {
        strategy: { canaryPercent: 50, bakeSeconds: 0, evidenceTimeoutSeconds: 1 },
      });
      await new Promise((r) => setTimeout(r, 1_200));
      await t.hub.app.rolloutTicker.tick();
      const now = await t.call<Rollout>("GET", `/api/v1/rollouts/${rollout.id}`);
      expect(now.json.state).toBe("paused");

      const mail = await waitFor("e-mail", () => smtp.mails.find((m) => m.to.includes(mailTo)));
      expect(mail.text).toContain("by        the hub (no person acting)");
      expect(mail.text).toMatch(/Why: wave 1 still lacks evidence after \d+ s/);

      const rows = await waitFor("webhook failed", async () => {
        const all = await alertsOf(t, rollout.id);
        return all.find((r) => r.channel === "webhook")?.status === "failed" ? all : null;
      });
      const hook = rows.find((r) => r.channel === "webhook")!;
      expect(hook.attempts).toBe(3);
      expect(hook.lastError).toBe(`POST ${failing.url} answered HTTP 500`);
      // three signed tries of one delivery
      expect(failing.received).toHaveLength(3);
      expect(failing.received.every((h) => h.signatureValid)).toBe(true);
      expect(new Set(failing.received.map((h) => h.headers["x-kensa-delivery"]))).toEqual(new Set([hook.id]));
      expect((failing.received[0]!.json as RolloutHook).rollout.id).toBe(rollout.id);

      const sms = rows.find((r) => r.channel === "sms")!;
      expect(sms.status).toBe("pending");
      expect(sms.lastError).toMatch(/^quiet hours: deferred until /);
      const due = await t.hub.store.db
        .selectFrom("rollout_notifications")
        .select("next_attempt_at")
        .where("id", "=", sms.id)
        .executeTakeFirstOrThrow();
      expect(Date.parse(due.next_attempt_at!)).toBeGreaterThan(Date.now() + 3_600_000);
      await settle();
      expect(smsTo(path)).toHaveLength(0);
      expect(rows.find((r) => r.channel === "email")).toMatchObject({ status: "sent", attempts: 1 });
    } finally {
      await failing.close();
      await t.close();
    }
  });

  it("counts rollout SMS against the phone's hourly limit, shared with incident SMS", async () => {
    const t = await startHub({ database: backend.database(), notifications: { attempts: 2, backoffMs: 50 } });
    try {
      const slug = `limit-${backend.name}`;
      const path = `/limit-${backend.name}`;
      const phone = backend.name === "sqlite" ? "+491704444444" : "+491705555555";
      const gateway = {
        url: `${gw.url}${path}`,
        method: "POST",
        adapter: "generic",
        from: "KENSA",
        auth: { type: "none" },
      };
      const sms = { gateway, recipients: [{ phone }], maxPerHour: 1 } as NonNullable<NotificationRouting["sms"]>;
      const devices = ["a", "b"].map((x) => ({ id: `${slug}-${x}`, tags: ["line"] }));
      const { projectId } = await seed(t.call, slug, devices, { notifications: { cooldownSec: 0, sms } });
      const [, challenger] = await championAndChallenger(t, projectId);
      const rollout = await createRollout(t, challenger.id, { strategy: { bakeSeconds: 3600 } });
      await act(t, rollout.id, "pause");
      await waitFor("first SMS", () => smsTo(path)[0]);
      await act(t, rollout.id, "resume");
      await act(t, rollout.id, "pause", "again");
      const rows = await alertsOf(t, rollout.id);
      expect(rows).toHaveLength(2);
      expect(rows.find((r) => r.status === "suppressed")?.lastError).toBe(
        `rate limit: 1 SMS to ${phone} within the last hour (maxPerHour 1)`,
      );
      // an incident's SMS to the same phone within the hour is held back by the rollout's
      const routing: NotificationRouting = { email: [], webhooks: [], cooldownSec: 0, sms };
      const plan = await planSms(t.hub.store.db, "critical", routing, { phone }, new Date().toISOString());
      expect(plan.status).toBe("suppressed");
      await settle();
      expect(smsTo(path)).toHaveLength(1);
    } finally {
      await t.close();
    }
  });
});
