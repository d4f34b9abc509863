import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { topics } from "@kensa/contracts";
import { freePort, needService, repoRoot, waitFor } from "@kensa/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Backend, backends, connectDevice, makeEvent, seed, startHub, type TestHub } from "./helpers.js";

// the prom2json-compatible parser of the Prometheus text format (its port of client_python's)
const parsePrometheus = createRequire(import.meta.url)("parse-prometheus-text-format") as (text: string) => Array<{
  name: string;
  help: string;
  type: "COUNTER" | "GAUGE" | "SUMMARY" | "HISTOGRAM" | "UNTYPED";
  metrics: Array<{
    value?: string;
    labels?: Record<string, string>;
    quantiles?: Record<string, string>;
  }>;
}>;

const bin = (name: string) => ["/usr/bin", "/usr/local/bin"].map((d) => join(d, name)).find((p) => existsSync(p));
const promtool = bin("promtool");
const prometheus = bin("prometheus");
const noPrometheus = needService("Prometheus and promtool (Debian package prometheus)", !!promtool && !!prometheus);

const list = await backends("metrics_scrape");
afterAll(async () => {
  for (const b of list) await b.cleanup();
});

describe.each(list)("/metrics as Prometheus reads it ($name)", (backend: Backend) => {
  let t: TestHub;
  let text = "";

  beforeAll(async () => {
    t = await startHub({ database: backend.database() });
    const { secrets } = await seed(t.call, "press", [{ id: "cam-1" }]);
    const device = await connectDevice(t.mqttUrl, "cam-1", secrets["cam-1"] as string);
    const events = [0.91, 0.82, 0.77].map((score) => makeEvent("cam-1", { label: "defect", score }));
    for (const ev of events) await device.publishAsync(topics.events("cam-1"), JSON.stringify(ev), { qos: 1 });
    const incidents = await waitFor("three incidents", async () => {
      const r = await t.call<{ items: Array<{ id: string; eventId: string }> }>("GET", "/api/v1/incidents?limit=100");
      return r.json.items.length === 3 ? r.json.items : undefined;
    });
    // two confirmed, one false alarm: field precision 2/3 for the label
    for (const [i, verdict] of ["confirmed", "confirmed", "false_alarm"].entries()) {
      const res = await t.call("POST", `/api/v1/incidents/${incidents[i]?.id}/verdict`, { body: { verdict } });
      expect(res.status).toBe(201);
    }
    const res = await fetch(`${t.httpUrl}/metrics`, { headers: { authorization: `Bearer ${t.hub.adminToken}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    text = await res.text();
    await device.endAsync();
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it("parses; counters are typed counter, field figures and queues are there with their values", () => {
    const families = new Map(parsePrometheus(text).map((f) => [f.name, f]));
    const value = (name: string, labels: Record<string, string> = {}) =>
      Number(
        families.get(name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value ??
          Number.NaN,
      );
    // every *_total is a counter, and every family says what it is
    for (const f of families.values()) {
      if (f.name.endsWith("_total")) expect([f.name, f.type]).toEqual([f.name, "COUNTER"]);
      expect(f.help.length, f.name).toBeGreaterThan(0);
    }
    expect(value("kensa_ingest_events_stored_total")).toBe(3);
    expect(families.get("kensa_ingest_queue_events")?.type).toBe("GAUGE");
    // the hub's SQLite log is checkpointed beside it (0 on PostgreSQL)
    expect(value("kensa_sqlite_wal_uncheckpointed_frames")).toBeGreaterThanOrEqual(0);
    expect(value("kensa_sqlite_wal_checkpoint_errors_total")).toBe(0);
    expect(value("kensa_field_incidents", { project: "press", label: "defect", status: "confirmed" })).toBe(2);
    expect(value("kensa_field_incidents", { project: "press", label: "defect", status: "false_alarm" })).toBe(1);
    expect(value("kensa_field_precision", { project: "press", label: "defect" })).toBeCloseTo(2 / 3, 6);
    const review = families.get("kensa_review_latency_seconds");
    expect(review?.type).toBe("SUMMARY");
    // this parser keeps a summary's quantiles but not its other labels, sum or count: those from the text
    expect(Number(review?.metrics[0]?.quantiles?.["0.5"])).toBeGreaterThanOrEqual(0);
    expect(text).toMatch(/^kensa_review_latency_seconds_count\{project="press"\} 3$/m);
    // a bare MQTT client publishes no presence, as an agent does: the device has never said it is online
    expect(value("kensa_devices", { project: "press", presence: "never" })).toBe(1);
    expect(families.get("kensa_jobs")?.type).toBe("GAUGE");
    expect(value("kensa_mqtt_connected")).toBe(1);
    expect(families.get("process_cpu_user_seconds_total")?.type).toBe("COUNTER");
    expect(value("nodejs_heap_size_used_bytes")).toBeGreaterThan(0);
  });

  it.skipIf(noPrometheus)("promtool's own parser and linter accept the exposition", () => {
    const res = spawnSync(promtool as string, ["check", "metrics"], { input: text, encoding: "utf8" });
    expect(`${res.stdout}${res.stderr}`.trim()).toBe("");
    expect(res.status).toBe(0);
  });
});

describe.skipIf(noPrometheus)("a Prometheus server scrapes the hub", () => {
  let t: TestHub;
  let server: ReturnType<typeof spawn> | undefined;

  afterAll(async () => {
    server?.kill("SIGKILL");
    await t?.close();
  });

  it("with the admin token as bearer credentials: up, and the hub's metrics are queryable", async () => {
    t = await startHub();
    await seed(t.call, "line", [{ id: "cam-9" }]);
    const port = await freePort();
    const config = join(t.dir.path, "prometheus.yml");
    const token = join(t.dir.path, "scrape-token");
    writeFileSync(token, t.hub.adminToken, { mode: 0o600 });
    writeFileSync(
      config,
      [
        "global: { scrape_interval: 1s, scrape_timeout: 1s }",
        "scrape_configs:",
        "  - job_name: kensa",
        `    authorization: { credentials_file: ${JSON.stringify(token)} }`,
        `    static_configs: [{ targets: [${JSON.stringify(new URL(t.httpUrl).host)}] }]`,
        "",
      ].join("\n"),
    );
    server = spawn(
      prometheus as string,
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(t.dir.path, "tsdb")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=error",
      ],
      { stdio: "ignore" },
    );
    const query = async (q: string) => {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`).catch(() => null);
      if (!res?.ok) return [];
      const body = (await res.json()) as {
        data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
      };
      return body.data.result;
    };
    await waitFor("Prometheus to scrape the hub", async () => (await query('up{job="kensa"}'))[0]?.value[1] === "1", {
      timeoutMs: 30_000,
    });
    const devices = await waitFor("kensa_devices in Prometheus", async () => {
      const r = await query('kensa_devices{project="line"}');
      return r.length > 0 ? r : undefined;
    });
    expect(devices[0]?.metric.presence).toBeTruthy();
    expect(Number(devices[0]?.value[1])).toBe(1);

    // the Grafana dashboard: every panel's query runs on this Prometheus, on metrics the hub has
    const dashboard = JSON.parse(readFileSync(join(repoRoot, "deploy/grafana/kensa-hub-dashboard.json"), "utf8")) as {
      panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
    };
    const exposition = await (
      await fetch(`${t.httpUrl}/metrics`, { headers: { authorization: `Bearer ${t.hub.adminToken}` } })
    ).text();
    const families = new Set([...exposition.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((x) => ({ panel: p.title, expr: x.expr })));
    expect(exprs.length).toBeGreaterThan(10);
    for (const { panel, expr } of exprs) {
      const q = expr.replaceAll("$project", ".*").replaceAll("$__rate_interval", "1m");
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`);
      expect([panel, res.status, await res.text()]).toEqual([panel, 200, expect.stringContaining('"success"')]);
      for (const [name] of q.matchAll(/\b(?:kensa|process|nodejs)_[a-z0-9_]+/g)) {
        const family = name.replace(/_(?:sum|count|bucket)$/, "");
        expect([panel, families.has(family) || families.has(name)]).toEqual([panel, true]);
      }
    }
  }, 60_000);
});
