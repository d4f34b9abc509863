import { createHmac } from "node:crypto";
import { type Incident, type Notification, topics } from "@kensa/contracts";
import { type SmtpSink, startSmtpSink, startWebhookSink, tempDir, type WebhookSink, waitFor } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, connectDevice, makeEvent, seed, startHub } from "./helpers.js";

const SECRET = "webhook-secret-0123456789abcdef";
const list = await backends("notifications");

let smtp: SmtpSink;
let hooks: WebhookSink;
beforeAll(async () => {
  smtp = await startSmtpSink();
  hooks = await startWebhookSink(SECRET);
});
afterAll(async () => {
  await smtp.close();
  await hooks.close();
  for (const b of list) await b.cleanup();
});

/** Publishes a finding from a device and returns its incident. */
async function raise(t: Awaited<ReturnType<typeof startHub>>, deviceId: string, secret: string): Promise<Incident> {
  const c = await connectDevice(t.mqttUrl, deviceId, secret);
  try {
    const ev = makeEvent(deviceId, { label: "defect", score: 0.87 });
    await c.publishAsync(topics.events(deviceId), JSON.stringify(ev), { qos: 1 });
    return await waitFor("incident", async () => {
      const r = await t.call<{ items: Incident[] }>("GET", "/api/v1/incidents?limit=1000");
      return r.json.items.find((i) => i.eventId === ev.id);
    });
  } finally {
    await c.endAsync(true);
  }
}

const notificationsOf = async (t: Awaited<ReturnType<typeof startHub>>, incidentId: string) =>
  (await t.call<{ items: Notification[] }>("GET", `/api/v1/notifications?incidentId=${incidentId}`)).json.items;

describe.each(list)("notifications ($name)", (backend) => {
  it("e-mails and signs webhooks for a new incident, then suppresses within the cooldown", async () => {
    const t = await startHub({
      database: backend.database(),
      smtp: { host: smtp.host, port: smtp.port, from: "hub@kensa.test" },
    });
    try {
      const slug = `notify-${backend.name}`;
      const { secrets } = await seed(t.call, slug, [{ id: `n-${backend.name}` }], {
        notifications: {
          email: [`qa-${backend.name}@plant.test`],
          webhooks: [{ url: hooks.url, secret: SECRET }],
          cooldownSec: 600,
        },
      });
      const dev = `n-${backend.name}`;
      const inc = await raise(t, dev, secrets[dev]!);

      const mail = await waitFor("e-mail", () =>
        smtp.mails.find((m) => m.to.includes(`qa-${backend.name}@plant.test`)),
      );
      expect(mail.from).toBe("hub@kensa.test");
      expect(mail.subject).toContain(`Project ${slug}`);
      expect(mail.subject).toContain("defect");
      expect(mail.subject).toContain("0.87");
      expect(mail.subject).toContain(dev);
      expect(mail.text).toContain(`${t.httpUrl}/incidents/${inc.id}`);

      const hook = await waitFor("webhook", () =>
        hooks.received.find((h) => (h.json as { incident?: { id: string } }).incident?.id === inc.id),
      );
      // verify the signature here too, not only in the sink
      const ts = hook.headers["x-kensa-timestamp"] as string;
      const want = createHmac("sha256", SECRET).update(`${ts}.${hook.body}`).digest("hex");
      expect(hook.headers["x-kensa-signature"]).toBe(`sha256=${want}`);
      expect(hook.signatureValid).toBe(true);
      expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(60);
      expect(hook.headers["x-kensa-event"]).toBe("incident.created");
      const body = hook.json as { type: string; deliveryId: string; incident: Incident };
      expect(body.type).toBe("incident.created");
      expect(hook.headers["x-kensa-delivery"]).toBe(body.deliveryId);
      expect(body.incident).toMatchObject({ id: inc.id, label: "defect", deviceId: dev });

      await waitFor("both sent", async () => (await notificationsOf(t, inc.id)).every((n) => n.status === "sent"));
      const sent = await notificationsOf(t, inc.id);
      expect(sent.map((n) => n.channel).sort()).toEqual(["email", "webhook"]);
      expect(sent.every((n) => n.attempts === 1 && n.sentAt !== null)).toBe(true);

      // a second incident within the cooldown notifies no one, and says so
      const mailsBefore = smtp.mails.length;
      const second = await raise(t, dev, secrets[dev]!);
      const held = await notificationsOf(t, second.id);
      expect(held.map((n) => n.status)).toEqual(["suppressed", "suppressed"]);
      await new Promise((r) => setTimeout(r, 300));
      expect(smtp.mails.length).toBe(mailsBefore);
      expect(hooks.received.some((h) => (h.json as { incident?: { id: string } }).incident?.id === second.id)).toBe(
        false,
      );
      const stats = await t.call<{ notifications: Record<string, number> }>("GET", "/api/v1/stats");
      expect(stats.json.notifications).toMatchObject({ sent: 2, suppressed: 2, pending: 0, failed: 0 });
    } finally {
      await t.close();
    }
  });

  it("retries a failing webhook with backoff, then marks it failed; e-mail without SMTP fails clearly", async () => {
    const t = await startHub({ database: backend.database(), notifications: { attempts: 3, backoffMs: 50 } });
    const failing = await startWebhookSink(SECRET);
    failing.setStatus(500);
    try {
      const dev = `f-${backend.name}`;
      const { secrets } = await seed(t.call, `fail-${backend.name}`, [{ id: dev }], {
        notifications: { email: ["ops@plant.test"], webhooks: [{ url: failing.url, secret: SECRET }], cooldownSec: 0 },
      });
      const inc = await raise(t, dev, secrets[dev]!);
      const done = await waitFor("both failed", async () => {
        const ns = await notificationsOf(t, inc.id);
        return ns.length === 2 && ns.every((n) => n.status === "failed") ? ns : null;
      });
      const hook = done.find((n) => n.channel === "webhook")!;
      expect(hook.attempts).toBe(3);
      expect(hook.lastError).toContain("HTTP 500");
      expect(failing.received).toHaveLength(3);
      const mail = done.find((n) => n.channel === "email")!;
      expect(mail.attempts).toBe(1);
      expect(mail.lastError).toMatch(/no SMTP server configured/);

      // an unreachable receiver is a failure too, not a crash
      await t.call("PATCH", `/api/v1/projects/${inc.projectId}`, {
        body: {
          notifications: {
            email: [],
            webhooks: [{ url: "http://127.0.0.1:9/nothing", secret: SECRET }],
            cooldownSec: 0,
          },
        },
      });
      const inc2 = await raise(t, dev, secrets[dev]!);
      const [n2] = await waitFor("unreachable failed", async () => {
        const ns = await notificationsOf(t, inc2.id);
        return ns.length === 1 && ns[0]!.status === "failed" ? ns : null;
      });
      expect(n2!.attempts).toBe(3);
      expect(n2!.lastError).toMatch(/127\.0\.0\.1:9/);
    } finally {
      await failing.close();
      await t.close();
    }
  });

  it("delivers notifications left pending by a stopped hub after it restarts", async () => {
    const dir = await tempDir("kensa-restart-");
    const database = backend.database(`restart-${backend.name}`);
    const flaky = await startWebhookSink(SECRET);
    flaky.setStatus(503);
    try {
      // first life: the receiver is down and the retry is far away
      let t = await startHub({ database, notifications: { attempts: 5, backoffMs: 60_000 } }, { dir });
      const dev = `r-${backend.name}`;
      const { secrets } = await seed(t.call, `restart-${backend.name}`, [{ id: dev }], {
        notifications: { email: [], webhooks: [{ url: flaky.url, secret: SECRET }], cooldownSec: 0 },
      });
      const inc = await raise(t, dev, secrets[dev]!);
      await waitFor("one failed attempt", async () => (await notificationsOf(t, inc.id))[0]?.attempts === 1);
      await t.close();

      // second life: pending rows are still there and go out once due
      flaky.setStatus(200);
      t = await startHub({ database, notifications: { attempts: 5, backoffMs: 60_000 } }, { dir });
      try {
        const row = (await notificationsOf(t, inc.id))[0]!;
        expect(row.status).toBe("pending");
        await t.hub.store.db
          .updateTable("notifications")
          .set({ next_attempt_at: new Date().toISOString() })
          .where("id", "=", row.id)
          .execute();
        t.hub.dispatcher.kick();
        await waitFor("sent after restart", async () => (await notificationsOf(t, inc.id))[0]?.status === "sent");
        expect(flaky.received).toHaveLength(2);
      } finally {
        await t.close();
      }
    } finally {
      await flaky.close();
      await dir.remove();
    }
  });
});
