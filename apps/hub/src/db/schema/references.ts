// Golden references of reference-image inspection (migration 0033).

/** One golden reference of a project: the image of a product / recipe key. */
export interface ProjectReferencesTable {
  id: string;
  project_id: string;
  key: string;
  image_sha256: string;
  image_format: string;
  width: number;
  height: number;
  /** 1: the project's default reference (exactly one per project that has any) */
  is_default: number;
  created_by: string;
  created_at: string;
}
