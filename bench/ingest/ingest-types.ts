/** What the ingest bench measures: a cell per mode, device count and load. */
import type { ModeId } from "./rig.js";

export interface IngestCell {
  mode: ModeId;
  devices: number;
  load: "max" | "half";
  /** events/s asked for (half load), null at maximum */
  targetRate: number | null;
  /** what the devices took as confirmation: the hub's acks message, or the broker's PUBACK */
  confirm: "hub" | "puback";
  /** how devices authenticate on the broker: the hub's embedded broker, Mosquitto's dynamic security, or not at all */
  deviceAuth: "hub" | "dynsec" | "anonymous";
  seconds: number;
  published: number;
  stored: number;
  /** events/s stored: stored ÷ (last stored − first published) */
  rate: number;
  /** confirmed to the device (which then deletes it) but not in the database */
  lost: number;
  /** extra rows with the id (or device and seq) of another */
  duplicated: number;
  /** still unconfirmed (kept by the device) when the drain ended */
  unconfirmed: number;
  rejected: number;
  resends: number;
  /** confirmations of events already confirmed: replays, or a second hub storing the same event */
  extraConfirmations: number;
  /** events the hubs' ingest counted as already stored */
  hubDuplicates: number | null;
  /** what the hubs' ingest counted during the run (summed over replicas; `queued` left out) */
  hubCounters: Record<string, number> | null;
  /** the hubs' error log lines during the run, counted by message */
  hubErrors: Record<string, number>;
  p50: number;
  p99: number;
  /** µs of CPU per stored event, of the hub processes (or the bare subscriber) and of a separate broker */
  hubCpuUs: number;
  brokerCpuUs: number | null;
  /** % of one core the load generator used over the run and its drain: near 100 it is the bottleneck */
  genCpuPercent: number;
  /** cores the whole machine kept busy over the run and its drain (every process, PostgreSQL's too) */
  machineBusyCores: number;
  loadStart: number;
  loadEnd: number;
}

export interface IngestOptions {
  modes?: readonly ModeId[];
  deviceCounts?: readonly number[];
  /** s of load per run */
  seconds?: number;
  /** unconfirmed events per device */
  window?: number;
  /** run at half the measured maximum too */
  halfRate?: boolean;
  /** hub config for replicas (how they share the events subscription) */
  replicaConfig?: Record<string, unknown>;
  log?: (line: string) => void;
  /** called after each finished cell */
  onCell?: (cell: IngestCell) => void | Promise<void>;
}

export interface IngestRun {
  cells: IngestCell[];
  skipped: string[];
}
