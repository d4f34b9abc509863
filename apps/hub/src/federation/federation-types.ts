import type { FederationStatus, HealthProblem } from "@kensa/contracts";
import type { CentralIntake } from "./central-intake.js";
import type { CentralRollouts } from "./central-rollouts.js";
import type { CentralSamples } from "./central-samples.js";
import type { SiteRegistry } from "./site-registry.js";
import type { SiteSync } from "./site-sync.js";

/** Every hub can be central (it takes sites); a hub with `federation.central` is also a site. */
export interface Federation {
  sites: SiteRegistry;
  intake: CentralIntake;
  /** labelled samples sites push into this hub's datasets */
  samples: CentralSamples;
  /** rollouts asked of sites, and the state they reported */
  siteRollouts: CentralRollouts;
  /** the sync loop; null on a hub that is not a site */
  sync: SiteSync | null;
  status(): FederationStatus;
  problems(): HealthProblem[];
}
