import { agentStatusRoutes } from "@kensa/contracts";

/** A route's path relative to the page, so the page still works behind a proxy's path prefix. */
const relative = (path: string) => path.replace(/^\//, "");
const statusUrl = relative(agentStatusRoutes.status.path);
const metricsUrl = relative(agentStatusRoutes.metrics.path);

/**
 * The device's local status page: one static document that polls the JSON API, so a person at
 * the line sees cameras, results and queues without the hub. No framework and no external
 * assets, because the device may have no internet and the page must work from a phone.
 */
export const statusPageHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Kensa agent</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1rem; color: #1c2024; background: #f9f9fb; }
  h1 { font-size: 1.2rem; margin: 0 0 .5rem; }
  .muted { color: #60646c; }
  .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 1rem; }
  .card { background: #fff; border: 1px solid #e0e1e6; border-radius: 8px; padding: .75rem; }
  .card img { width: 100%; border-radius: 4px; background: #eee; min-height: 120px; }
  table { border-collapse: collapse; width: 100%; }
  td, th { text-align: left; padding: 2px 6px; border-bottom: 1px solid #f0f0f3; }
  .running, .loaded { color: #18794e; } .error, .failed { color: #ce2c31; } .starting { color: #ab6400; }
  .err { color: #ce2c31; font-size: 12px; word-break: break-word; }
</style>
</head>
<body>
<h1>Kensa agent <span id="device" class="muted"></span></h1>
<p id="summary" class="muted">loading…</p>
<h2>Sources</h2>
<div id="sources" class="grid"></div>
<h2>Pipelines</h2>
<table id="pipelines"><thead><tr><th>id</th><th>status</th><th>model</th><th>fps</th><th>p50 / p95 / p99 ms</th><th>frames</th><th>dropped</th><th>queue</th></tr></thead><tbody></tbody></table>
<p class="muted"><a href="${statusUrl}">JSON</a> · <a href="${metricsUrl}">Prometheus metrics</a></p>
<script>
const el = (tag, props = {}, ...children) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
};
const mb = (b) => (b / 1048576).toFixed(1) + " MB";
async function refresh() {
  let s;
  try {
    s = await (await fetch(${JSON.stringify(statusUrl)}, { cache: "no-store" })).json();
  } catch (e) {
    document.getElementById("summary").textContent = "agent unreachable: " + e;
    return;
  }
  document.getElementById("device").textContent = s.deviceId + " · v" + s.agentVersion;
  document.getElementById("summary").textContent =
    (s.connected ? "connected to the hub" : "offline (events are kept)") +
    " · outbox " + s.queues.outbox + " · media " + s.queues.media +
    " · data dir " + mb(s.disk.dataDirBytes) + " · free " + mb(s.disk.freeBytes) +
    " · up " + Math.round(s.uptimeS) + " s";
  const sources = document.getElementById("sources");
  sources.replaceChildren(...s.sources.map((x) => el("div", { className: "card" },
    el("div", {}, el("b", { textContent: x.id }), " ", el("span", { className: "muted", textContent: x.type + " → " + x.pipeline })),
    el("div", { className: x.status, textContent: x.status + " · " + x.fps + " fps · " + x.framesTotal + " frames · " + x.restarts + " restarts" }),
    x.error ? el("div", { className: "err", textContent: x.error.code + ": " + x.error.message }) : "",
    x.framesTotal > 0 ? el("img", { src: x.latest + "?t=" + Date.now(), alt: "latest frame of " + x.id }) : "")));
  document.querySelector("#pipelines tbody").replaceChildren(...s.pipelines.map((p) => el("tr", {},
    el("td", { textContent: p.id }),
    el("td", { className: p.status, textContent: p.status + (p.error ? " (" + p.error.code + ")" : "") }),
    el("td", { textContent: p.bundle ? p.bundle.modelVersionId + " · " + p.bundle.sha256.slice(0, 12) : "—" }),
    el("td", { textContent: p.fps }),
    el("td", { textContent: p.latencyMs.p50 + " / " + p.latencyMs.p95 + " / " + p.latencyMs.p99 }),
    el("td", { textContent: p.framesInferred + " / " + p.framesTotal }),
    el("td", { textContent: p.framesDropped + p.framesSkipped }),
    el("td", { textContent: p.queueDepth }))));
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
`;
