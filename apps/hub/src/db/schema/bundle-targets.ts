// Per-target bundles: what each device of a deployment got, the files bundles pin, self-tests.

/** One device of a deployment: the bundle it got and the target that bundle was built for. */
export interface DeploymentTargetsTable {
  deployment_id: string;
  device_id: string;
  bundle_sha256: string;
  arch: string;
  precision: string;
  runtime: string;
  /** the model file the bundle ships (fp32 or int8) and its bytes */
  model_sha256: string;
  model_size: number;
}

/** A blob a bundle pins besides its manifest: its model file ("model") or a golden frame ("golden"). */
export interface BundleFilesTable {
  bundle_sha256: string;
  sha256: string;
  project_id: string;
  role: string;
}

/** The last self-test a device reported for a bundle on a pipeline (SelfTestReport as JSON in `report`). */
export interface BundleSelfTestsTable {
  device_id: string;
  pipeline: string;
  bundle_sha256: string;
  arch: string;
  precision: string;
  status: string;
  report: string;
  reported_at: string;
}
