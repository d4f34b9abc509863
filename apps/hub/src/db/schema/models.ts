// Model versions, their bundles, and the evaluations, gate reports and approvals that promote them.

export interface ModelVersionsTable {
  id: string;
  project_id: string;
  version: number;
  name: string;
  sha256: string;
  size: number;
  stage: string;
  manifest: string;
  source: string;
  created_at: string;
  /** lineage (migration 0003): null for uploads */
  run_id: string | null;
  snapshot_id: string | null;
  lineage: string | null;
  int8_sha256: string | null;
}

export interface BundlesTable {
  sha256: string;
  project_id: string;
  model_version_id: string;
  size: number;
  created_at: string;
}

export interface EvaluationsTable {
  id: string;
  project_id: string;
  model_version_id: string;
  snapshot_id: string;
  status: string;
  metrics: string | null;
  error: string | null;
  created_at: string;
  finished_at: string | null;
}

export interface GateReportsTable {
  id: string;
  project_id: string;
  model_version_id: string;
  champion_id: string | null;
  snapshot_id: string;
  criteria: string;
  results: string;
  decision: string;
  reason: string;
  deployment_id: string | null;
  created_at: string;
  /** GateEvidence as JSON; null before 0021_gate_evidence or when none was computed */
  evidence: string | null;
  /** GateReport.reasonCode; null before 0021_gate_evidence */
  reason_code: string | null;
}

export interface ApprovalsTable {
  id: string;
  model_version_id: string;
  action: string;
  decided_by: string;
  reason: string;
  from_stage: string;
  to_stage: string;
  created_at: string;
}
