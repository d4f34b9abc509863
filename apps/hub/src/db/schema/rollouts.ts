// Staged rollouts (migration 0023).

export interface RolloutsTable {
  id: string;
  project_id: string;
  model_version_id: string;
  champion_model_version_id: string | null;
  pipeline: string;
  /** deploy or shadow */
  mode: string;
  precision: string;
  /** JSON {deviceIds, tags} as asked */
  target: string;
  /** JSON RolloutStrategy with its defaults */
  strategy: string;
  /** JSON RolloutGates with their defaults */
  gates: string;
  state: string;
  current_wave: number;
  /** JSON RolloutWave[] plus each wave's starting event seq per device */
  waves: string;
  /** JSON {deviceId: StoredBundleRef | null}: what each target device's pipeline ran before */
  previous: string;
  reason: string | null;
  /** JSON RolloutTransition[] */
  history: string;
  created_by: string;
  created_at: string;
  updated_at: string;
}
