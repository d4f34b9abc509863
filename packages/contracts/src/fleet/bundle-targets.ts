import { type Static, Type } from "@sinclair/typebox";
import { Timestamp as Ts } from "../common.js";
import { BundleTarget, ParityFigures, SelfTestReport } from "../golden.js";

/**
 * Which model file a deployment ships: `auto` (int8 where the model version passed its gate's
 * int8 budget and the device can run int8, fp32 elsewhere), or one precision for every device
 * that can run it.
 */
export const DeploymentPrecision = Type.Union([Type.Literal("auto"), Type.Literal("fp32"), Type.Literal("int8")]);
export type DeploymentPrecision = Static<typeof DeploymentPrecision>;

/** The bundle one device of a deployment got, and the target it was built for. */
export const DeviceTarget = Type.Object({
  deviceId: Type.String(),
  bundleSha256: Type.String(),
  target: BundleTarget,
});
export type DeviceTarget = Static<typeof DeviceTarget>;

/** `GET /deployments/:id/targets`: per device its target and last self-test, and per architecture the parity. */
export const DeploymentTargets = Type.Object({
  deploymentId: Type.String(),
  precision: DeploymentPrecision,
  /** why the model version may or may not ship int8 (gate budget, variant present) */
  int8: Type.Object({ eligible: Type.Boolean(), reason: Type.String() }),
  devices: Type.Array(
    Type.Object({
      deviceId: Type.String(),
      bundleSha256: Type.String(),
      target: BundleTarget,
      /** the device's self-test of this bundle, once it reported one */
      selfTest: Type.Union([SelfTestReport, Type.Null()]),
    }),
  ),
  /** per (architecture, precision): self-test counts and the worst figures reported */
  byArch: Type.Array(
    Type.Object({
      arch: Type.String(),
      precision: Type.String(),
      devices: Type.Integer({ minimum: 0 }),
      passed: Type.Integer({ minimum: 0 }),
      failed: Type.Integer({ minimum: 0 }),
      skipped: Type.Integer({ minimum: 0 }),
      /** devices that have not reported a self-test of their bundle yet */
      pending: Type.Integer({ minimum: 0 }),
      worst: Type.Union([ParityFigures, Type.Null()]),
    }),
  ),
  generatedAt: Ts,
});
export type DeploymentTargets = Static<typeof DeploymentTargets>;
