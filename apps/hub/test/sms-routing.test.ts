import { type Incident, type Notification, type NotificationRouting, topics } from "@kensa/contracts";
import { waitFor } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NotificationService } from "../src/notify/notification-service.js";
import type { ProjectRecord } from "../src/projects/project-service.js";
import { backends, connectDevice, makeEvent, seed, startHub, type TestHub } from "./helpers.js";
import { type FakeGateway, startGateway } from "./sms-gateway-server.js";

const list = await backends("sms-routing");
const TOKEN = "gw-bearer-token-0123456789";
const ALICE = "+491701111111";
const BOB = "+491702222222";

let gw: FakeGateway;
beforeAll(async () => {
  gw = await startGateway();
});
afterAll(async () => {
  await gw.close();
  for (const b of list) await b.cleanup();
});

/** Publishes findings from a device and returns their incidents, in order. */
async function raise(t: TestHub, deviceId: string, secret: string, scores: number[]): Promise<Incident[]> {
  const c = await connectDevice(t.mqttUrl, deviceId, secret);
  try {
    const out: Incident[] = [];
    for (const score of scores) {
      const ev = makeEvent(deviceId, { label: "defect", score });
      await c.publishAsync(topics.events(deviceId), JSON.stringify(ev), { qos: 1 });
      out.push(
        await waitFor("incident", async () => {
          const r = await t.call<{ items: Incident[] }>("GET", `/api/v1/incidents?deviceId=${deviceId}&limit=1000`);
          return r.json.items.find((i) => i.eventId === ev.id);
        }),
      );
    }
    return out;
  } finally {
    await c.endAsync(true);
  }
}

const notificationsOf = async (t: TestHub, incidentId: string) =>
  (await t.call<{ items: Notification[] }>("GET", `/api/v1/notifications?incidentId=${incidentId}`)).json.items;

const smsRouting = (path: string, extra: Partial<NonNullable<NotificationRouting["sms"]>> = {}) => ({
  gateway: { url: `${gw.url}${path}`, adapter: "generic", from: "KENSA", auth: { type: "bearer", token: TOKEN } },
  recipients: [{ phone: ALICE }],
  ...extra,
});

describe.each(list)("SMS routing ($name)", (backend) => {
  it("routes by severity, retries a 503, fails a 400 at once with its code, seals the gateway token, counts in /metrics", async () => {
    const t = await startHub({ database: backend.database(), notifications: { attempts: 3, backoffMs: 50 } });
    try {
      const dev = `sms-${backend.name}`;
      const { projectId, secrets } = await seed(t.call, `sms-${backend.name}`, [{ id: dev }], {
        notifications: {
          email: ["ops@plant.test"],
          cooldownSec: 0,
          sms: smsRouting(`/route-${backend.name}`),
          severity: { critical: 0.9, major: 0.8 },
          routes: [
            { severities: ["critical"], channels: ["sms", "email"] },
            { severities: ["minor", "major"], channels: ["email"] },
          ],
        },
      });

      // the gateway's token is sealed in the database row and never in a reply
      const row = await t.hub.store.db
        .selectFrom("projects")
        .select("notifications")
        .where("id", "=", projectId)
        .executeTakeFirstOrThrow();
      expect(row.notifications).not.toContain(TOKEN);
      const stored = JSON.parse(row.notifications) as NotificationRouting;
      expect(stored.sms?.gateway.auth).toMatchObject({
        type: "bearer",
        token: expect.stringMatching(/^kensa:enc:v1:/),
      });
      const reply = await t.call<{ notifications: { sms: { gateway: { auth: unknown } } } }>(
        "GET",
        `/api/v1/projects/${projectId}`,
      );
      expect(JSON.stringify(reply.json)).not.toContain(TOKEN);
      expect(reply.json.notifications.sms.gateway.auth).toEqual({ type: "bearer" });

      gw.script.push(503);
      const [critical, minor] = await raise(t, dev, secrets[dev]!, [0.95, 0.6]);
      const path = `/route-${backend.name}`;
      const sms = await waitFor("SMS sent after a retry", async () => {
        const n = (await notificationsOf(t, critical!.id)).find((x) => x.channel === "sms");
        return n?.status === "sent" ? n : undefined;
      });
      expect(sms.target).toBe(ALICE);
      expect(sms.attempts).toBe(2);
      const hits = gw.requests.filter((r) => r.path === path);
      expect(hits).toHaveLength(2);
      expect(hits[1]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
      const body = JSON.parse(hits[1]!.body) as { to: string; text: string };
      expect(body.to).toBe(ALICE);
      expect(body.text).toBe(
        `CRITICAL sms-${backend.name}: defect 0.95 on ${dev} ${t.httpUrl}/incidents/${critical!.id}`,
      );
      expect((await notificationsOf(t, critical!.id)).map((n) => n.channel).sort()).toEqual(["email", "sms"]);
      // minor: e-mail only
      expect((await notificationsOf(t, minor!.id)).map((n) => n.channel)).toEqual(["email"]);

      // a 400 is not retried; the record carries the code and the gateway's answer
      gw.script.push(400);
      const [again] = await raise(t, dev, secrets[dev]!, [0.99]);
      const failed = await waitFor("SMS failed", async () => {
        const n = (await notificationsOf(t, again!.id)).find((x) => x.channel === "sms");
        return n?.status === "failed" ? n : undefined;
      });
      expect(failed.attempts).toBe(1);
      expect(failed.lastError).toMatch(/^KENSA_ERR_SMS_GATEWAY_REJECTED: POST .* answered HTTP 400: .*scripted 400/);
      await new Promise((r) => setTimeout(r, 300));
      expect(gw.requests.filter((r) => r.path === path)).toHaveLength(3);

      const metrics = (await t.call<string>("GET", "/metrics")).json;
      for (const outcome of ["sent", "retried", "rejected"]) {
        const m = metrics.match(new RegExp(`kensa_sms_total\\{outcome="${outcome}"\\} (\\d+)`));
        expect(Number(m?.[1])).toBeGreaterThanOrEqual(1);
      }
    } finally {
      await t.close();
    }
  });

  it("rate-limits each recipient per rolling hour and records the excess as suppressed", async () => {
    const t = await startHub({ database: backend.database(), notifications: { attempts: 2, backoffMs: 50 } });
    try {
      const dev = `rl-${backend.name}`;
      const path = `/rl-${backend.name}`;
      const { secrets } = await seed(t.call, `rl-${backend.name}`, [{ id: dev }], {
        notifications: { cooldownSec: 0, sms: smsRouting(path, { maxPerHour: 2, recipients: [{ phone: BOB }] }) },
      });
      const incidents = await raise(t, dev, secrets[dev]!, [0.9, 0.91, 0.92, 0.93]);
      const rows = await Promise.all(incidents.map(async (i) => (await notificationsOf(t, i.id))[0]!));
      expect(rows.map((r) => r.status === "suppressed")).toEqual([false, false, true, true]);
      expect(rows[2]!.lastError).toMatch(/^rate limit: 2 SMS to \+491702222222 within the last hour/);
      await waitFor("two SMS delivered", () => gw.requests.filter((r) => r.path === path).length === 2);
      await new Promise((r) => setTimeout(r, 300));
      expect(gw.requests.filter((r) => r.path === path)).toHaveLength(2);
    } finally {
      await t.close();
    }
  });

  it("holds SMS in quiet hours (injected clock) until the window ends, except overriding severities", async () => {
    const t = await startHub({ database: backend.database() });
    try {
      const dev = `q-${backend.name}`;
      // no SMS routing in the hub's copy: this test plans with its own routing and clock
      const { projectId, secrets } = await seed(t.call, `q-${backend.name}`, [{ id: dev }], {
        notifications: { cooldownSec: 0 },
      });
      const [a, b, c] = await raise(t, dev, secrets[dev]!, [0.5, 0.6, 0.97]);
      const routing = {
        email: [],
        webhooks: [],
        cooldownSec: 0,
        sms: {
          ...smsRouting("/quiet"),
          method: "POST",
          maxPerHour: 0,
          recipients: [
            {
              phone: ALICE,
              quietHours: { start: "22:00", end: "07:00", timeZone: "Europe/Berlin", override: ["critical"] },
            },
            { phone: BOB },
          ],
          quietHours: { start: "12:00", end: "13:00", timeZone: "UTC", override: [] },
        },
      } as NotificationRouting;
      const project = { id: projectId, notifications: routing } as ProjectRecord;
      const service = new NotificationService(t.hub.store.db);
      // 23:30 in Berlin, 22:30 UTC: Alice is in her quiet hours, Bob (the channel's 12-13 UTC) is not
      const night = "2026-01-15T22:30:00.000Z";
      const rows = async (incidentId: string) =>
        t.hub.store.db
          .selectFrom("notifications")
          .selectAll()
          .where("incident_id", "=", incidentId)
          .where("channel", "=", "sms")
          .execute();
      const db = t.hub.store.db;
      await service.planFor(db, a!, project, night);
      const ra = await rows(a!.id);
      const alice = ra.find((r) => r.target === ALICE)!;
      expect(alice.status).toBe("pending");
      expect(alice.next_attempt_at).toBe("2026-01-16T06:00:00.000Z");
      expect(alice.last_error).toBe("quiet hours: deferred until 2026-01-16T06:00:00.000Z");
      expect(ra.find((r) => r.target === BOB)!.next_attempt_at).toBe(night);

      // a second minor incident in the same night: one SMS already waits, this one is suppressed
      await service.planFor(db, b!, project, "2026-01-15T23:10:00.000Z");
      const rb = (await rows(b!.id)).find((r) => r.target === ALICE)!;
      expect(rb.status).toBe("suppressed");
      expect(rb.last_error).toBe(`quiet hours: ${alice.id} already waits to reach ${ALICE}`);

      // critical overrides Alice's quiet hours
      await service.planFor(db, c!, project, "2026-01-15T23:20:00.000Z");
      const rc = (await rows(c!.id)).find((r) => r.target === ALICE)!;
      expect(rc.status).toBe("pending");
      expect(rc.next_attempt_at).toBe("2026-01-15T23:20:00.000Z");

      // at noon UTC the channel's window holds Bob, and critical does not override it there
      await service.planFor(db, c!, project, "2026-01-16T12:30:00.000Z");
      const bobNoon = (await rows(c!.id)).find((r) => r.target === BOB && r.created_at === "2026-01-16T12:30:00.000Z")!;
      expect(bobNoon.next_attempt_at).toBe("2026-01-16T13:00:00.000Z");
    } finally {
      await t.close();
    }
  });

  it("refuses routing that cannot work, naming the path", async () => {
    const t = await startHub({ database: backend.database() });
    try {
      const bad = await t.call<{ error: { code: string; message: string } }>("POST", "/api/v1/projects", {
        body: {
          slug: `bad-${backend.name}`,
          name: "bad",
          task: "classification",
          labels: ["ok", "defect"],
          notifications: {
            email: ["ops@plant.test"],
            sms: {
              ...smsRouting("/x"),
              recipients: [{ phone: ALICE, quietHours: { start: "22:00", end: "07:00", timeZone: "Mars/Olympus" } }],
            },
            routes: [{ labels: ["scratch"], channels: ["webhook"] }],
          },
        },
      });
      expect(bad.status).toBe(400);
      expect(bad.json.error.code).toBe("KENSA_ERR_VALIDATION");
      expect(bad.json.error.message).toContain(
        '/notifications/routes/0/labels/0: "scratch" is not one of the project\'s labels',
      );
      expect(bad.json.error.message).toContain("/notifications/routes/0/channels/0: no webhook target is configured");
      expect(bad.json.error.message).toContain('/notifications/sms/recipients/0/quietHours/timeZone: "Mars/Olympus"');
      const badPhone = await t.call<{ error: { code: string } }>("POST", "/api/v1/projects", {
        body: {
          slug: `bad2-${backend.name}`,
          name: "bad",
          task: "classification",
          labels: ["ok", "defect"],
          notifications: { sms: { ...smsRouting("/x"), recipients: [{ phone: "0170 123" }] } },
        },
      });
      expect(badPhone.status).toBe(400);
      expect(badPhone.json.error.code).toBe("KENSA_ERR_VALIDATION");
    } finally {
      await t.close();
    }
  });
});
