/**
 * Resident memory of a real agent process with ResNet18 deployed to it, inspecting 400 KB 1080p
 * frames from a folder source at 10 fps and sending events to an embedded hub: the agent's own
 * RSS (/proc/<pid>/status), sampled every 250 ms for `seconds` once the model serves frames.
 * Compared: the bundled JavaScript agent as a device runs it (`kensa-agent`, with the memory
 * settings of its service unit, docs/agent.md), the same with default settings, and the
 * TypeScript sources through tsx (development).
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { agentServiceEnv } from "@kensa/agent";
import { incidentRoutes, type ModelManifest, projectRoutes } from "@kensa/contracts";
import { deployToDevices, enrollAgents, type ScenarioAgent, uploadModel } from "@kensa/scenario";
import { waitFor } from "@kensa/testkit";
import { percentile } from "@kensa/vision";
import { buildResNet18, buildResNet18Int8 } from "@kensa/vision/graph";
import { withBenchHub } from "./datasets.js";
import type { Row } from "./report.js";
import { cameraFrames } from "./vision-speed.js";

const serviceNote = Object.entries(agentServiceEnv)
  .map(([k, v]) => `${k}=${v}`)
  .join(" ");

interface Variant {
  label: string;
  built: boolean;
  env: Record<string, string>;
}

const variants: Variant[] = [
  {
    label: `bundled agent (kensa-agent) with its service unit's settings: ${serviceNote}`,
    built: true,
    env: agentServiceEnv,
  },
  { label: "bundled agent (kensa-agent), default malloc and V8 settings", built: true, env: {} },
  {
    label: `agent from TypeScript sources through tsx (development), ${serviceNote}`,
    built: false,
    env: agentServiceEnv,
  },
];

/** user + system CPU seconds the process has used (/proc/<pid>/stat, clock ticks of 1/100 s). */
function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

export async function agentMemoryRows(seconds = 30): Promise<Row[]> {
  if (!existsSync("/proc/self/status")) return [];
  const frames = await cameraFrames(8);
  const rows: Row[] = [];
  for (const [label, model] of [
    ["ResNet18 fp32 224²", buildResNet18()],
    ["ResNet18 int8 (QDQ) 224²", await buildResNet18Int8()],
  ] as const) {
    for (const v of variants) {
      if (label.includes("int8") && !v.built) continue;
      rows.push(await measure(label, model, v, frames, seconds));
    }
  }
  return rows;
}

async function measure(
  label: string,
  model: { onnx: Uint8Array; manifest: ModelManifest },
  v: Variant,
  frames: Buffer[],
  seconds: number,
): Promise<Row> {
  return withBenchHub(async ({ api }) => {
    const project = await api.call(projectRoutes.create, {
      body: {
        slug: "mem",
        name: "memory",
        task: "classification",
        labels: model.manifest.labels,
        okLabels: model.manifest.okLabels,
      },
    });
    const version = await uploadModel(api, project.id, model);
    const dir = await mkdtemp(join(tmpdir(), "kensa-mem-"));
    const frameDir = join(dir, "frames");
    await mkdir(frameDir, { recursive: true });
    for (const [i, f] of frames.entries()) await writeFile(join(frameDir, `f${i}.jpg`), f);
    let agent: ScenarioAgent | undefined;
    try {
      [agent] = await enrollAgents(api, project.id, [{ id: "mem-cam" }], {
        dir,
        sources: [{ id: "line", type: "folder", path: frameDir, fps: 10 }],
        env: { KENSA_LOG_LEVEL: "warn", ...v.env },
        built: v.built,
      });
      await deployToDevices(api, version.id, ["mem-cam"]);
      const pid = agent!.process.child.pid!;
      // serving once events arrive (the agent downloaded, verified, loaded and warmed the model)
      await waitFor(
        "the agent's first events",
        async () =>
          (await api.call(incidentRoutes.listEvents, { query: { deviceId: "mem-cam", limit: 1 } })).items.length > 0,
        { timeoutMs: 120_000, intervalMs: 250 },
      );
      await new Promise((r) => setTimeout(r, 3000));
      const samples: number[] = [];
      const cpu0 = cpuSecondsOf(pid);
      const started = performance.now();
      const until = Date.now() + seconds * 1000;
      while (Date.now() < until) {
        samples.push(rssOf(pid));
        await new Promise((r) => setTimeout(r, 250));
      }
      const cpuPercent = Math.round(((cpuSecondsOf(pid) - cpu0) / ((performance.now() - started) / 1000)) * 100);
      const round = (x: number) => Math.round(x * 10) / 10;
      const p95 = percentile(samples, 95);
      return {
        name: `resident memory (RSS) of the agent process, ${label} deployed, 400 KB 1080p frames at 10 fps`,
        unit: "MB",
        p50: round(percentile(samples, 50)),
        p95: round(p95),
        n: samples.length,
        notes: `target ≤ 200 MB: ${p95 <= 200 ? "met" : "NOT met"} (p95); agent CPU ${cpuPercent} % of one core; ${v.label}; folder source, events to an embedded hub; sampled every 250 ms for ${seconds} s after the model served its first frames`,
      };
    } finally {
      await agent?.process.kill("SIGTERM");
      await rm(dir, { recursive: true, force: true });
    }
  });
}
