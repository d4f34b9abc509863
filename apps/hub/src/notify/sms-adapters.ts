import type { SmsAdapter, SmsGateway } from "@kensa/contracts";

/** One message to send, with what a template may name. */
export interface SmsMessage {
  to: string;
  text: string;
  /** for a rollout alert: `label` is the event (`rollout.paused`), `device` the wave's devices, `incidentId` empty */
  vars: {
    severity: string;
    project: string;
    device: string;
    label: string;
    incidentId: string;
    url: string;
    rolloutId?: string;
    event?: string;
  };
}

/** The HTTP request an adapter makes of a message (auth headers added by the notifier). */
export interface SmsRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

type Adapter = (gateway: SmsGateway, msg: SmsMessage) => SmsRequest;

const json = (gateway: SmsGateway, url: string, body: unknown): SmsRequest => ({
  method: gateway.method,
  url,
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

/** Numbers in E.164 without the "+", as Vonage and MessageBird take them. */
const msisdn = (phone: string) => phone.replace(/^\+/, "");

/** The vars that have a value: a placeholder without one stays as written. */
const definedVars = (vars: SmsMessage["vars"]): Record<string, string> =>
  Object.fromEntries(Object.entries(vars).filter((e): e is [string, string] => typeof e[1] === "string"));

/** Replaces {{name}} in every string of a JSON value; the result stays valid JSON whatever the text holds. */
export function fillTemplate(template: unknown, vars: Record<string, string>): unknown {
  if (typeof template === "string") return template.replace(/\{\{(\w+)\}\}/g, (m, k: string) => vars[k] ?? m);
  if (Array.isArray(template)) return template.map((v) => fillTemplate(v, vars));
  if (template && typeof template === "object") {
    return Object.fromEntries(Object.entries(template).map(([k, v]) => [k, fillTemplate(v, vars)]));
  }
  return template;
}

/** The request shapes by adapter, each a pure function of the gateway and the message. */
export const smsAdapters: Record<SmsAdapter, Adapter> = {
  /** `{to, from, text}` as JSON to the URL as given */
  generic: (g, m) => json(g, g.url, { to: m.to, from: g.from, text: m.text }),
  /** Twilio's Messages resource: a form POST of To, From, Body to <account URL>/Messages.json */
  twilio: (g, m) => ({
    method: "POST",
    url: `${g.url.replace(/\/+$/, "")}/Messages.json`,
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ To: m.to, From: g.from, Body: m.text }).toString(),
  }),
  /** Vonage Messages API (v1/messages): an SMS is message_type text on channel sms */
  vonage: (g, m) =>
    json(g, g.url, { message_type: "text", channel: "sms", to: msisdn(m.to), from: g.from, text: m.text }),
  /** MessageBird's messages endpoint: originator, recipients, body */
  messagebird: (g, m) => json(g, g.url, { originator: g.from, recipients: [msisdn(m.to)], body: m.text }),
  /** the gateway's `template`, its placeholders filled */
  template: (g, m) =>
    json(g, g.url, fillTemplate(g.template, { to: m.to, from: g.from, text: m.text, ...definedVars(m.vars) })),
};

/** The Authorization (or named) header of a gateway's auth, secrets in plaintext. */
export function authHeaders(auth: SmsGateway["auth"]): Record<string, string> {
  switch (auth.type) {
    case "none":
      return {};
    case "bearer":
      return { authorization: `Bearer ${auth.token}` };
    case "basic":
      return { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}` };
    case "header":
      return { [auth.name.toLowerCase()]: auth.value };
  }
}
