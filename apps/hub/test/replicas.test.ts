import { randomBytes } from "node:crypto";
import { type AddressInfo, createServer, type Server } from "node:net";
import { type EnrolledDevice, type Incident, type Notification, topics } from "@kensa/contracts";
import { startWebhookSink, type TempDir, tempDir, type WebhookSink, waitFor } from "@kensa/testkit";
import { Aedes } from "aedes";
import { sql } from "kysely";
import mqtt, { type MqttClient } from "mqtt";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HubEventMap } from "../src/bus/event-bus.js";
import { PgEventBus } from "../src/bus/pg-event-bus.js";
import type { ClaimedJob } from "../src/jobs/job-queue.js";
import { JobWorker } from "../src/jobs/job-worker.js";
import { backends, basic, makeEvent, seed, startHub, type TestHub } from "./helpers.js";

/**
 * Two hub replicas in this process, as an operator runs them behind a load balancer: one
 * PostgreSQL schema, one external broker (Aedes here), one data dir. What a person would notice
 * if a replica kept state to itself: a console on B missing A's incidents, a webhook sent twice,
 * a job run twice or never after a replica died, a password guessed five times per replica.
 */
const SECRET = "replica-webhook-secret-0123456789";
/** ms: short leases, so a dead replica's work is taken over within the test */
const LEASE_MS = 1500;

const postgres = (await backends("replicas")).find((b) => b.name === "postgres");

describe.skipIf(!postgres)("hub replicas on one PostgreSQL and one broker", () => {
  let aedes: Aedes;
  let server: Server;
  let brokerUrl: string;
  let dir: TempDir;
  let hooks: WebhookSink;
  let a: TestHub;
  let b: TestHub;
  let database: { type: "postgres"; url: string; schema: string };
  let device: MqttClient;
  let projectId: string;

  const replica = (name: string) =>
    startHub(
      {
        database,
        mqtt: { embedded: { enabled: false }, url: brokerUrl, clientId: `kensa-hub-test-${name}-${process.pid}` },
        notifications: { leaseMs: LEASE_MS, backoffMs: 100 },
        // the hubs' own workers stay idle: the job tests run workers of their own on each replica's queue
        training: { workers: 0, leaseMs: LEASE_MS, pollMs: 100 },
      },
      { dir },
    );

  beforeAll(async () => {
    aedes = await Aedes.createBroker();
    server = createServer(aedes.handle);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    brokerUrl = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dir = await tempDir("kensa-replicas-");
    hooks = await startWebhookSink(SECRET);
    database = postgres!.database("shared") as typeof database;
    a = await replica("a");
    b = await replica("b");
    ({ projectId } = await seed(a.call, "replicas", [{ id: "rep-cam" }], {
      notifications: { email: [], webhooks: [{ url: hooks.url, secret: SECRET }], cooldownSec: 0 },
    }));
    device = await mqtt.connectAsync(brokerUrl, { clientId: "rep-cam", reconnectPeriod: 0 });
  });
  afterAll(async () => {
    await device?.endAsync(true);
    await a?.close();
    await b?.close();
    await hooks?.close();
    await new Promise<void>((r) => aedes.close(() => r()));
    await new Promise<void>((r) => server.close(() => r()));
    await dir?.remove();
    await postgres?.cleanup();
  });

  /** Publishes a finding and returns its incident, whichever replica ingested it. */
  async function raise(): Promise<Incident> {
    const ev = makeEvent("rep-cam", { label: "defect", score: 0.9 });
    await device.publishAsync(topics.events("rep-cam"), JSON.stringify(ev), { qos: 1 });
    return waitFor("incident", async () => {
      const r = await a.call<{ items: Incident[] }>("GET", `/api/v1/incidents?projectId=${projectId}&limit=1000`);
      return r.json.items.find((i) => i.eventId === ev.id);
    });
  }

  it("shows an incident on every replica's live stream once, and a decision taken on A on B's", async () => {
    const onA = await openStream(`${a.httpUrl}/api/v1/incidents/stream?projectId=${projectId}`, a.hub.adminToken);
    const onB = await openStream(`${b.httpUrl}/api/v1/incidents/stream?projectId=${projectId}`, b.hub.adminToken);
    try {
      await waitFor("both streams connected", () => onA.connected() && onB.connected());
      const incident = await raise();
      const created = (s: Stream) =>
        s.events.filter((e) => e.event === "incident.created" && e.data.id === incident.id);
      await waitFor("incident.created on both", () => created(onA).length > 0 && created(onB).length > 0);

      const ack = await a.call<Incident>("POST", `/api/v1/incidents/${incident.id}/acknowledge`);
      expect(ack.status).toBe(200);
      const updated = await waitFor("incident.updated on B", () =>
        onB.events.find((e) => e.event === "incident.updated" && e.data.id === incident.id),
      );
      expect(updated.data.status).toBe("acknowledged");
      // nothing arrives twice: the replica that ingested heard its own event once, not again over NOTIFY
      await new Promise((r) => setTimeout(r, 300));
      expect(created(onA)).toHaveLength(1);
      expect(created(onB)).toHaveLength(1);
      expect(onB.events.filter((e) => e.event === "incident.updated" && e.data.id === incident.id)).toHaveLength(1);
    } finally {
      onA.close();
      onB.close();
    }
  });

  it("carries payloads over NOTIFY's 8000 bytes, keeps a changed rule on its replica, and listens again after losing its connection", async () => {
    const opts = { url: database.url, schema: database.schema, fanOut: ["incident.created"] as const, log: quiet };
    const x = PgEventBus.fromUrl<HubEventMap>(opts);
    const y = PgEventBus.fromUrl<HubEventMap>(opts);
    await x.start();
    await y.start();
    try {
      const heard: Array<{ type: string; payload: unknown }> = [];
      y.subscribe("incident.created", (p) => heard.push({ type: "incident.created", payload: p }));
      y.subscribe("project.ruleChanged", (p) => heard.push({ type: "project.ruleChanged", payload: p }));
      let ruleHere = 0;
      x.subscribe("project.ruleChanged", () => ruleHere++);

      const raised = await raise();
      const big = { ...raised, id: `inc_big_${randomBytes(4).toString("hex")}`, deviceId: `cam-${"x".repeat(20_000)}` };
      x.publish("project.ruleChanged", { projectId });
      x.publish("incident.created", { incident: big });
      const got = await waitFor("the large incident on y", () =>
        heard.find((h) => (h.payload as { incident: Incident }).incident.id === big.id),
      );
      expect((got.payload as { incident: Incident }).incident.deviceId).toBe(big.deviceId);
      expect(ruleHere).toBe(1);
      expect(heard.filter((h) => h.type === "project.ruleChanged")).toHaveLength(0);

      // as when the server restarts: every listening connection of this schema is cut
      const again = new Promise<void>((r) => y.once("listening", () => r()));
      const admin = new pg.Client({ connectionString: database.url });
      await admin.connect();
      try {
        await admin.query("select pg_terminate_backend(pid) from pg_stat_activity where query = $1", [
          `LISTEN ${y.channel}`,
        ]);
      } finally {
        await admin.end();
      }
      await again;
      await waitFor("x listening again", () => x.listening);
      const small = { ...raised, id: `inc_small_${randomBytes(4).toString("hex")}` };
      x.publish("incident.created", { incident: small });
      await waitFor("an incident after the reconnect", () =>
        heard.find((h) => (h.payload as { incident: Incident }).incident.id === small.id),
      );
      // the hubs' own listeners came back too: B's console hears A's decisions again
      await waitFor("hubs listening", async () => (await listeners(y.channel)) >= 4, { timeoutMs: 20_000 });
    } finally {
      await x.close();
      await y.close();
    }
  });

  it("sends each planned notification once while both replicas' dispatchers run", async () => {
    const incidents: Incident[] = [];
    for (let i = 0; i < 6; i++) incidents.push(await raise());
    for (let i = 0; i < 5; i++) {
      a.hub.dispatcher.kick();
      b.hub.dispatcher.kick();
    }
    const ids = new Set(incidents.map((i) => i.id));
    const delivered = () => hooks.received.filter((h) => ids.has((h.json as { incident: Incident }).incident.id));
    await waitFor("every webhook", () => delivered().length >= incidents.length);
    // past a lease, so a second send (a claim taken over) would have happened
    await new Promise((r) => setTimeout(r, LEASE_MS + 500));
    expect(delivered()).toHaveLength(incidents.length);
    expect(new Set(delivered().map((h) => (h.json as { deliveryId: string }).deliveryId)).size).toBe(incidents.length);
    for (const inc of incidents) {
      const [n] = await notificationsOf(inc.id);
      expect(n).toMatchObject({ status: "sent", attempts: 1 });
    }
  });

  it("sends a notification a dead replica had claimed, once, after its lease", async () => {
    const incident = await raise();
    await waitFor("its notification sent", async () => (await notificationsOf(incident.id))[0]?.status === "sent");
    const before = hooks.received.length;
    // what a replica leaves when it dies mid-send: its claim, pending, until the lease ends
    const claimedAt = Date.now();
    const id = `ntf_dead_${randomBytes(4).toString("hex")}`;
    await a.hub.store.db
      .insertInto("notifications")
      .values({
        id,
        incident_id: incident.id,
        project_id: projectId,
        channel: "webhook",
        target: hooks.url,
        status: "pending",
        attempts: 0,
        last_error: null,
        next_attempt_at: new Date(claimedAt + LEASE_MS).toISOString(),
        created_at: new Date(claimedAt).toISOString(),
        sent_at: null,
        claimed_by: "ntfd_dead",
      })
      .execute();
    a.hub.dispatcher.kick();
    b.hub.dispatcher.kick();
    const hook = await waitFor(
      "the dead replica's webhook",
      () => hooks.received.find((h) => (h.json as { deliveryId: string }).deliveryId === id),
      { timeoutMs: 10_000 },
    );
    expect(Date.now() - claimedAt).toBeGreaterThanOrEqual(LEASE_MS - 100);
    expect(hook.signatureValid).toBe(true);
    await new Promise((r) => setTimeout(r, LEASE_MS));
    expect(hooks.received.length - before).toBe(1);
    const row = await a.hub.store.db
      .selectFrom("notifications")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirstOrThrow();
    expect(row.status).toBe("sent");
    expect([a.hub.dispatcher.id, b.hub.dispatcher.id]).toContain(row.claimed_by);
  });

  it("runs each job on exactly one replica, and a dead replica's job on another after its lease", async () => {
    const ran: Array<{ worker: string; job: string; at: number }> = [];
    const workerOn = (t: TestHub) => {
      const w: JobWorker = new JobWorker({
        queue: t.hub.training.queue,
        handlers: [
          {
            type: "evaluate",
            run: async (job: ClaimedJob) => {
              ran.push({ worker: w.id, job: job.id, at: Date.now() });
              await new Promise((r) => setTimeout(r, 20));
              return { status: "succeeded" };
            },
          },
        ],
        concurrency: 3,
        pollMs: 50,
        renewMs: LEASE_MS / 3,
        log: t.hub.app.log,
      });
      return w;
    };
    const jobs = [];
    for (let i = 0; i < 24; i++) {
      jobs.push(await a.hub.training.queue.enqueue({ type: "evaluate", projectId, refId: `eval_rep_${i}` }));
    }
    // the oldest is claimed by a replica that then dies: nobody renews its lease
    const dead = await a.hub.training.queue.claim("dead-replica", ["evaluate"]);
    expect(dead?.id).toBe(jobs[0]!.id);
    const claimedAt = Date.now();

    const wa = workerOn(a);
    const wb = workerOn(b);
    wa.start();
    wb.start();
    try {
      const all = jobs.map((j) => j.id);
      await waitFor(
        "every job succeeded",
        async () => {
          for (const id of all) if ((await a.hub.training.queue.get(id))?.status !== "succeeded") return false;
          return true;
        },
        { timeoutMs: 15_000 },
      );
      for (const id of all)
        expect(
          ran.filter((r) => r.job === id),
          id,
        ).toHaveLength(1);
      expect(new Set(ran.map((r) => r.worker))).toEqual(new Set([wa.id, wb.id]));
      // the dead replica's job waited for its lease, then ran once elsewhere
      const takenOver = ran.find((r) => r.job === dead!.id)!;
      expect(takenOver.at - claimedAt).toBeGreaterThanOrEqual(LEASE_MS - 100);
      expect((await a.hub.training.queue.get(dead!.id))?.attempts).toBe(2);
    } finally {
      await wa.stop();
      await wb.stop();
    }
  });

  it("forgets a rotated secret on every replica, not only the one that rotated it", async () => {
    const e = await a.call<EnrolledDevice>("POST", "/api/v1/devices", {
      body: { projectId, id: "rep-rot", tags: [] },
    });
    const old = e.json.secret;
    // a device request B answers (404: no such bundle) after checking, and caching, the secret
    const asDevice = (t: TestHub, secret: string) =>
      fetch(`${t.httpUrl}/api/v1/bundles/${"0".repeat(64)}`, { headers: { authorization: basic("rep-rot", secret) } });
    expect((await asDevice(b, old)).status).toBe(404);
    const rotated = await a.call<EnrolledDevice>("POST", "/api/v1/devices/rep-rot/secret/rotate");
    expect(rotated.status).toBe(200);
    await waitFor("B to refuse the old secret", async () => (await asDevice(b, old)).status === 401, {
      timeoutMs: 5000,
    });
    expect((await asDevice(b, rotated.json.secret)).status).toBe(404);
  });

  it("throttles failed sign-ins counted across replicas", async () => {
    const signIn = (t: TestHub) =>
      t.call("POST", "/api/v1/auth/login", { auth: null, body: { username: "mallory", password: "guess" } });
    for (let i = 0; i < 5; i++) expect((await signIn(i % 2 === 0 ? a : b)).status).toBe(401);
    const sixth = await signIn(b);
    expect(sixth.status).toBe(429);
    expect(Number(sixth.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await signIn(a)).status).toBe(429);
  });

  async function notificationsOf(incidentId: string): Promise<Notification[]> {
    return (await a.call<{ items: Notification[] }>("GET", `/api/v1/notifications?incidentId=${incidentId}`)).json
      .items;
  }

  /** connections listening on `channel` now */
  async function listeners(channel: string): Promise<number> {
    const r = await sql<{
      n: number;
    }>`select count(*)::int as n from pg_stat_activity where query = ${`LISTEN ${channel}`}`.execute(a.hub.store.db);
    return r.rows[0]?.n ?? 0;
  }
});

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

interface Stream {
  events: Array<{ event: string; data: Incident }>;
  connected(): boolean;
  close(): void;
}

/** An SSE client reading the incident stream with a bearer token. */
async function openStream(url: string, token: string): Promise<Stream> {
  const ac = new AbortController();
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: ac.signal });
  expect(res.status).toBe(200);
  const events: Stream["events"] = [];
  let connected = false;
  let buf = "";
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += decoder.decode(value, { stream: true });
        for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (block.includes(": connected")) connected = true;
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) as Incident });
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  return { events, connected: () => connected, close: () => ac.abort() };
}
