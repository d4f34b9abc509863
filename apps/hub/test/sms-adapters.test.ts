import type { Incident, Notification, SmsGateway } from "@kensa/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PermanentDeliveryError } from "../src/notify/notifier.js";
import { quietUntil } from "../src/notify/quiet-hours.js";
import { SmsNotifier } from "../src/notify/sms-notifier.js";
import { smsText, truncateCodePoints } from "../src/notify/sms-text.js";
import type { ProjectRecord } from "../src/projects/project-service.js";
import { type FakeGateway, startGateway } from "./sms-gateway-server.js";

let gw: FakeGateway;
beforeAll(async () => {
  gw = await startGateway();
});
afterAll(() => gw.close());

const PHONE = "+491701234567";
const URL_ = "https://hub.plant.test/incidents/inc_0123456789";

const incident = {
  id: "inc_0123456789",
  projectId: "prj_1",
  deviceId: "cam-3",
  label: "defect",
  score: 0.97,
  rule: "threshold: defect ≥ 0.50",
} as Incident;

function project(gateway: SmsGateway): ProjectRecord {
  return {
    id: "prj_1",
    slug: "line-1",
    name: "Line 1",
    task: "classification",
    labels: ["ok", "defect"],
    okLabels: ["ok"],
    rule: { type: "threshold", labels: [], minScore: 0.5 },
    notifications: {
      email: [],
      webhooks: [],
      cooldownSec: 0,
      sms: { gateway, recipients: [{ phone: PHONE }], maxPerHour: 6 },
    },
    createdAt: new Date().toISOString(),
  };
}

const notification: Notification = {
  id: "ntf_1",
  incidentId: incident.id,
  channel: "sms",
  target: PHONE,
  status: "pending",
  attempts: 0,
  lastError: null,
  createdAt: new Date().toISOString(),
  sentAt: null,
};

async function sendWith(gateway: SmsGateway, n: SmsNotifier = new SmsNotifier({ timeoutMs: 2000, maxChars: 160 }, 3)) {
  const before = gw.requests.length;
  await n.send({
    notification,
    incident,
    project: project(gateway),
    incidentUrl: URL_,
    signal: new AbortController().signal,
  });
  expect(gw.requests.length).toBe(before + 1);
  return gw.requests.at(-1)!;
}

const TEXT = `CRITICAL line-1: defect 0.97 on cam-3 ${URL_}`;

describe("SMS gateway adapters (request shapes against a local gateway)", () => {
  it("twilio: form POST to <account>/Messages.json with To, From, Body and basic auth", async () => {
    const req = await sendWith({
      url: `${gw.url}/2010-04-01/Accounts/AC123`,
      method: "POST",
      adapter: "twilio",
      from: "+15005550006",
      auth: { type: "basic", username: "AC123", password: "tw-token" },
    });
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/2010-04-01/Accounts/AC123/Messages.json");
    expect(req.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(req.headers.authorization).toBe(`Basic ${Buffer.from("AC123:tw-token").toString("base64")}`);
    const form = new URLSearchParams(req.body);
    expect(Object.fromEntries(form)).toEqual({ To: PHONE, From: "+15005550006", Body: TEXT });
  });

  it("generic: JSON {to, from, text} with the configured method and a bearer token", async () => {
    const req = await sendWith({
      url: `${gw.url}/send`,
      method: "PUT",
      adapter: "generic",
      from: "KENSA",
      auth: { type: "bearer", token: "gen-token" },
    });
    expect(req.method).toBe("PUT");
    expect(req.path).toBe("/send");
    expect(req.headers["content-type"]).toBe("application/json");
    expect(req.headers.authorization).toBe("Bearer gen-token");
    expect(JSON.parse(req.body)).toEqual({ to: PHONE, from: "KENSA", text: TEXT });
  });

  it("vonage: Messages API JSON, number without the plus", async () => {
    const req = await sendWith({
      url: `${gw.url}/v1/messages`,
      method: "POST",
      adapter: "vonage",
      from: "Kensa",
      auth: { type: "basic", username: "key", password: "secret" },
    });
    expect(req.path).toBe("/v1/messages");
    expect(JSON.parse(req.body)).toEqual({
      message_type: "text",
      channel: "sms",
      to: "491701234567",
      from: "Kensa",
      text: TEXT,
    });
  });

  it("messagebird: originator, recipients, body and an AccessKey header", async () => {
    const req = await sendWith({
      url: `${gw.url}/messages`,
      method: "POST",
      adapter: "messagebird",
      from: "Kensa",
      auth: { type: "header", name: "Authorization", value: "AccessKey mb-key" },
    });
    expect(req.headers.authorization).toBe("AccessKey mb-key");
    expect(JSON.parse(req.body)).toEqual({ originator: "Kensa", recipients: ["491701234567"], body: TEXT });
  });

  it("template: placeholders filled in every string, JSON-safe whatever the text holds", async () => {
    const req = await sendWith({
      url: `${gw.url}/custom`,
      method: "POST",
      adapter: "template",
      from: "Kensa",
      auth: { type: "header", name: "X-Api-Key", value: "k-1" },
      template: {
        msg: { dest: ["{{to}}"], sender: "{{from}}", content: "{{text}}" },
        meta: { sev: "{{severity}}", link: "{{url}}", dev: "{{device}}", unknown: "{{nope}}", n: 3 },
      },
    });
    expect(req.headers["x-api-key"]).toBe("k-1");
    expect(JSON.parse(req.body)).toEqual({
      msg: { dest: [PHONE], sender: "Kensa", content: TEXT },
      meta: { sev: "critical", link: URL_, dev: "cam-3", unknown: "{{nope}}", n: 3 },
    });
  });
});

describe("SMS failures", () => {
  const gateway = (): SmsGateway => ({
    url: `${gw.url}/send`,
    method: "POST",
    adapter: "generic",
    from: "KENSA",
    auth: { type: "none" },
  });

  it("a 4xx is a permanent failure with the rejected code and the gateway's answer", async () => {
    gw.script.push(400);
    const err = await sendWith(gateway()).catch((e: Error) => e);
    expect(err).toBeInstanceOf(PermanentDeliveryError);
    expect((err as Error).message).toMatch(
      /^KENSA_ERR_SMS_GATEWAY_REJECTED: POST .*\/send answered HTTP 400: .*scripted 400/,
    );
  });

  it("a 5xx, 429 or timeout asks for a retry with the unavailable code", async () => {
    gw.script.push(503);
    const e1 = (await sendWith(gateway()).catch((e: Error) => e)) as Error;
    expect(e1).not.toBeInstanceOf(PermanentDeliveryError);
    expect(e1.message).toMatch(/^KENSA_ERR_SMS_GATEWAY_UNAVAILABLE: .*HTTP 503/);
    gw.script.push(429);
    const e2 = (await sendWith(gateway()).catch((e: Error) => e)) as Error;
    expect(e2).not.toBeInstanceOf(PermanentDeliveryError);
    const closed = await startGateway();
    await closed.close();
    const n = new SmsNotifier({ timeoutMs: 2000, maxChars: 160 }, 3);
    const e3 = (await n
      .send({
        notification,
        incident,
        project: project({ ...gateway(), url: `${closed.url}/send` }),
        incidentUrl: URL_,
        signal: new AbortController().signal,
      })
      .catch((e: Error) => e)) as Error;
    expect(e3.message).toMatch(/^KENSA_ERR_SMS_GATEWAY_UNAVAILABLE: POST .* failed: /);
  });
});

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe("SMS text", () => {
  it("stays within the limit, cutting words on a code point boundary and never the link", () => {
    const long = smsText(
      { severity: "major", project: "p".repeat(100), incident: { ...incident, label: "😀".repeat(80) }, url: URL_ },
      160,
    );
    expect(Array.from(long).length).toBeLessThanOrEqual(160);
    expect(long.endsWith(` ${URL_}`)).toBe(true);
    expect(long.startsWith("MAJOR ")).toBe(true);
    // no lone surrogate: every code unit pair is intact
    expect(LONE_SURROGATE.test(long)).toBe(false);
    expect(truncateCodePoints("a😀😀😀", 3)).toBe("a😀…");
    expect(LONE_SURROGATE.test(truncateCodePoints("😀😀😀😀", 2))).toBe(false);
  });
});

describe("quiet hours", () => {
  const q = { start: "22:00", end: "07:00", timeZone: "Europe/Berlin", override: ["critical" as const] };
  it("across midnight in the recipient's zone", () => {
    // 23:30 in Berlin (winter, UTC+1) is 22:30 UTC; the window ends at 07:00 Berlin = 06:00 UTC
    expect(quietUntil("2026-01-15T22:30:00.000Z", q)).toBe("2026-01-16T06:00:00.000Z");
    // 05:59:30 Berlin
    expect(quietUntil("2026-01-16T04:59:30.000Z", q)).toBe("2026-01-16T06:00:00.000Z");
    // 07:00 Berlin: outside
    expect(quietUntil("2026-01-16T06:00:00.000Z", q)).toBeNull();
    // 12:00 Berlin
    expect(quietUntil("2026-01-16T11:00:00.000Z", q)).toBeNull();
    // a daytime window in UTC
    expect(quietUntil("2026-01-16T12:15:00.000Z", { ...q, start: "12:00", end: "13:00", timeZone: "UTC" })).toBe(
      "2026-01-16T13:00:00.000Z",
    );
  });
});
