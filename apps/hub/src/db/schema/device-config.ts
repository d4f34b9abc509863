// Remote device configuration (migration 0020).

/** One revision of a device's own config (`scope` "device") or a project's default ("project"). */
export interface DeviceConfigRevisionsTable {
  scope: string;
  scope_id: string;
  /** 1, 2, … per scope and id */
  rev: number;
  /** JSON as set */
  config: string;
  sha256: string;
  comment: string | null;
  created_at: string;
  /** the principal's label, null for the hub itself */
  created_by: string | null;
}

/** Per device, the merged config it is sent and its revision (bumped when the merge changes). */
export interface DeviceConfigDeliveryTable {
  device_id: string;
  rev: number;
  sha256: string;
  config: string;
  updated_at: string;
}
