import { canonicalJson } from "@kensa/contracts";
import type { Capturer } from "../capture/capturer.js";
import type { AgentConfig } from "../config.js";
import type { Pipeline } from "../inference/pipeline.js";
import type { Logger } from "../logger.js";
import type { SourceConfig } from "../sources/source-config.js";
import type { SourceSet } from "../sources/source-set.js";
import type { UpdaterSet } from "../updates/updater-set.js";
import type { StateReporter } from "../uplink/state-reporter.js";
import type { CaptureSwitch } from "./capture-switch.js";

/** The parts of a running agent a remote config changes in place. */
export interface LiveParts {
  /** by id; the status server reads it */
  pipelines: Map<string, Pipeline>;
  /** the pipelines as an array that telemetry and previews hold: appended to in place */
  pipelineList: Pipeline[];
  makePipeline(id: string): Pipeline;
  updaters: UpdaterSet;
  sources: SourceSet;
  reporter: StateReporter;
  capture: CaptureSwitch;
  makeCapturer(settings: AgentConfig["capture"]): Capturer | undefined;
  logger: Logger;
}

const pipelineOf = (c: AgentConfig, s: SourceConfig) => s.pipeline ?? c.pipeline;

/**
 * Moves a running agent from one config to another without stopping it: capture settings are
 * swapped; pipelines a new source names are created with their own updater (which takes their
 * entry of the last desired state, so a bundle already deployed to them loads); sources whose
 * config changed are stopped and started again, others keep running; pipelines no source feeds
 * any more are unloaded and dropped (the agent's own `pipeline` always stays); their counters
 * stay in the telemetry totals until the next restart.
 */
export async function applyLive(parts: LiveParts, from: AgentConfig, to: AgentConfig): Promise<void> {
  const log = parts.logger.child({ component: "remote-config" });
  if (canonicalJson(from.capture) !== canonicalJson(to.capture)) parts.capture.set(parts.makeCapturer(to.capture));

  const wanted = new Set([to.pipeline, ...to.sources.map((s) => pipelineOf(to, s))]);
  for (const id of wanted) {
    if (parts.pipelines.has(id)) continue;
    const p = parts.makePipeline(id);
    parts.pipelines.set(id, p);
    parts.pipelineList.push(p);
    await parts.updaters.add(p);
    log.info("pipeline added", { pipeline: id });
  }

  const before = new Map(from.sources.map((s) => [s.id, `${pipelineOf(from, s)}|${canonicalJson(s)}`]));
  const kept = new Set(
    to.sources.filter((s) => before.get(s.id) === `${pipelineOf(to, s)}|${canonicalJson(s)}`).map((s) => s.id),
  );
  const removed = await parts.sources.remove(from.sources.filter((s) => !kept.has(s.id)).map((s) => s.id));
  for (const e of removed) parts.reporter.unwatch(e.source);
  const added = parts.sources.add(to.sources.filter((s) => !kept.has(s.id)));
  for (const e of added) parts.reporter.watch(e.source);
  if (removed.length || added.length) {
    log.info("sources changed", {
      removed: removed.map((e) => e.source.id),
      added: added.map((e) => `${e.source.type}:${e.source.id}`),
    });
  }

  for (const [id, p] of [...parts.pipelines]) {
    if (wanted.has(id)) continue;
    parts.pipelines.delete(id);
    // left in pipelineList: telemetry sums its counters, which must not go backwards
    await parts.updaters.remove(id);
    await Promise.all([p.swap(null), p.setShadow(null)]);
    log.info("pipeline removed", { pipeline: id });
  }
  parts.reporter.changed();
}
