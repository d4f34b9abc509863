// Site hub ⇄ central hub (migration 0029).

/** On a central hub: a site hub allowed to push and pull, by its token's digest. */
export interface SitesTable {
  id: string;
  name: string;
  /** JSON array of the central project slugs the site serves */
  projects: string;
  /** sha256 hex of the site token (`kensa_site_…`); the token is shown once */
  token_sha256: string;
  created_at: string;
  last_seen_at: string | null;
  /** the site's last fleet summary (SiteFleet as JSON) */
  fleet: string | null;
  /** migration 0032: the site's last field summary (SiteField as JSON) */
  field?: string | null;
}

/** Migration 0032, on a central hub: the central sample of a site's sample, and the site revision it holds. */
export interface SiteSamplesTable {
  site_id: string;
  site_sample_id: string;
  sample_id: string;
  site_revision_id: string;
  site_rev: number;
  created_at: string;
  updated_at: string;
}

/** On a site hub: where a sync stream stopped (`incidents`, `verdicts`, `models`). */
export interface FederationCursorsTable {
  stream: string;
  cursor: string;
  updated_at: string;
}

/** On a site hub: the local model version registered for a central one. */
export interface FederationModelsTable {
  central_model_id: string;
  model_version_id: string;
  created_at: string;
}

declare module "../schema.js" {
  interface HubDatabase {
    site_samples: SiteSamplesTable;
  }
}

declare module "./incidents.js" {
  /** Migration 0029: on a central hub, the site an incident came from and its id there; null for its own. */
  interface IncidentsTable {
    site_id?: string | null;
    site_incident_id?: string | null;
  }
}
