import {
  type BundleTarget,
  type DeploymentPrecision,
  type GateCriterionResult,
  KensaError,
  type ModelVersion,
  targetArch,
} from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";

/** What a device can run, by the architecture it reports (or was enrolled with). */
export interface RuntimeCapability {
  runtime: string;
  /** ONNX Runtime's CPU provider has int8 (QDQ / QLinear) kernels for the architecture */
  int8: boolean;
}

/**
 * onnxruntime-node ships CPU builds with int8 kernels for x64 and arm64; a 32-bit ARM device
 * runs onnxruntime-web (wasm), where Kensa ships fp32 only. A device that never said what it is
 * gets fp32 for "any" architecture: int8 only goes where it is known to run.
 */
export function capabilityOf(arch: string): RuntimeCapability {
  switch (arch) {
    case "x64":
    case "arm64":
      return { runtime: "onnxruntime-node", int8: true };
    case "armv7":
      return { runtime: "onnxruntime-web", int8: false };
    default:
      return { runtime: "onnxruntime-node", int8: false };
  }
}

/** The architecture a device reported last, else the one it was enrolled with, else "any". */
export function deviceArch(row: { arch: string | null; reported: string | null }): string {
  if (row.reported) {
    try {
      const arch = (JSON.parse(row.reported) as { arch?: unknown }).arch;
      if (typeof arch === "string" && arch.length > 0) return targetArch(arch);
    } catch {
      // an unreadable reported state says nothing about the architecture
    }
  }
  return row.arch ? targetArch(row.arch) : "any";
}

export interface Int8Eligibility {
  eligible: boolean;
  reason: string;
}

/**
 * Whether `auto` may ship the int8 variant: the version is approved, has one, and the latest gate
 * report judged its drop against fp32 within the project's budget (`gate.maxInt8Drop`). Without
 * a budget the drop was never judged, so int8 is not shipped automatically.
 */
export async function int8Eligibility(db: Kysely<HubDatabase>, model: ModelVersion): Promise<Int8Eligibility> {
  if (!model.int8Sha256) return { eligible: false, reason: "the model version has no int8 variant" };
  if (model.stage !== "approved")
    return { eligible: false, reason: `the model version is ${model.stage}, not approved` };
  const report = await db
    .selectFrom("gate_reports")
    .select(["results", "created_at"])
    .where("model_version_id", "=", model.id)
    .orderBy("created_at", "desc")
    .executeTakeFirst();
  if (!report) return { eligible: false, reason: "the model version was never gated" };
  const row = (JSON.parse(report.results) as GateCriterionResult[]).find((r) => r.name === "int8_drop");
  if (!row)
    return { eligible: false, reason: "the gate had no int8 budget (gate.maxInt8Drop) to judge the variant by" };
  const figures = `drop ${row.challenger ?? "unmeasured"}, budget ${row.threshold}`;
  return row.pass
    ? { eligible: true, reason: `int8 within the gate's budget (${figures})` }
    : { eligible: false, reason: `int8 over the gate's budget (${figures})` };
}

/** Refuses `int8` for a version without an int8 file (KENSA_ERR_DEPLOYMENT_PRECISION_UNAVAILABLE). */
export function checkPrecision(precision: DeploymentPrecision, model: ModelVersion): void {
  if (precision === "int8" && !model.int8Sha256) {
    throw new KensaError(
      "KENSA_ERR_DEPLOYMENT_PRECISION_UNAVAILABLE",
      `model version ${model.id} has no int8 variant; deploy it with precision "auto" or "fp32"`,
      { modelVersionId: model.id },
    );
  }
}

/**
 * A device's target: int8 when asked (`int8`) or allowed (`auto` and eligible) and the device can
 * run it; fp32 otherwise. An explicit `int8` overrides the gate's budget, never the device.
 */
export function chooseTarget(precision: DeploymentPrecision, int8: Int8Eligibility, arch: string): BundleTarget {
  const cap = capabilityOf(arch);
  const wantsInt8 = precision === "int8" || (precision === "auto" && int8.eligible);
  return { arch, precision: wantsInt8 && cap.int8 ? "int8" : "fp32", runtime: cap.runtime };
}

export function targetKey(t: BundleTarget): string {
  return `${t.arch}/${t.precision}/${t.runtime}`;
}
