import { shadowAgreementFor } from "../shadow/shadow-agreement-aggregate.js";
import { RolloutService, type RolloutServiceDeps } from "./rollout-service.js";

/** The rollout service with shadow mode's agreement read from what devices reported (shadow/). */
export function createRollouts(deps: Omit<RolloutServiceDeps, "shadow">): RolloutService {
  return new RolloutService({
    ...deps,
    shadow: async (q) => {
      const { pairs } = await shadowAgreementFor(deps.db, q);
      let frames = 0;
      let agree = 0;
      for (const p of pairs) {
        frames += p.overall.frames;
        agree += p.overall.agree;
      }
      return { frames, agree };
    },
  });
}
