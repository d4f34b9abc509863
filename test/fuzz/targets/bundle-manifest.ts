import { createHash } from "node:crypto";
import {
  BundleManifest,
  IncidentRule,
  type ModelManifest,
  ModelManifest as ModelManifestSchema,
  parseManifest,
  withProjectRule,
} from "@kensa/contracts";
import fc from "fast-check";
import { verifyManifest, verifyModel } from "../../../apps/agent/src/updates/bundle-verify.js";
import { coded, codedSync, type FuzzTarget, fuzzProperty, isRefusal, timed, timedAsync } from "../harness.js";
import { mutatedBytes, mutatedJson } from "../mutations.js";
import { arbitraryOf } from "../schema-arbitrary.js";

const LABELS = ["ok", "scratch", "dent", "person", "helmet"];
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** Manifests the schema accepts, made consistent (postprocessing of the task, a non-OK label). */
const modelManifest: fc.Arbitrary<ModelManifest> = arbitraryOf(ModelManifestSchema, { words: LABELS, maxItems: 3 }).map(
  (raw) => {
    const m = raw as ModelManifest;
    const rules = m.rules?.map((r) =>
      r.debounce ? { ...r, debounce: { ...r.debounce, frames: r.debounce.hits } } : r,
    );
    return {
      ...m,
      task: m.postprocessing.type,
      okLabels: m.labels.slice(0, m.labels.length - 1),
      ...(rules ? { rules } : {}),
    };
  },
);
const bundleManifest = fc
  .tuple(arbitraryOf(BundleManifest, { words: LABELS, maxItems: 3 }), modelManifest)
  .map(([b, manifest]) => ({ ...(b as BundleManifest), manifest }));

const encode = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

/**
 * The bundle manifest as an agent receives it (apps/agent bundle-verify) and the model
 * manifest as the hub's registry parses an upload (parseManifest).
 */
export const bundleManifestTarget: FuzzTarget = {
  name: "bundle-manifest",
  covers: "bundle manifest verification on the agent (bundle-verify.ts) and model manifest parsing (parseManifest)",
  properties: [
    fuzzProperty(
      "parseManifest: anything is a manifest or KENSA_ERR_MANIFEST_INVALID",
      { budgetMs: 500, weight: 2 },
      (b) =>
        fc.property(
          fc.oneof(mutatedJson(modelManifest), fc.jsonValue({ maxDepth: 3 })),
          timed(b, (input) => {
            codedSync(["KENSA_ERR_MANIFEST_INVALID"], () => parseManifest(input));
          }),
        ),
    ),
    fuzzProperty("parseManifest: an accepted manifest parses to itself again", { budgetMs: 500 }, (b) =>
      fc.property(
        modelManifest,
        timed(b, (m) => {
          const first = codedSync(["KENSA_ERR_MANIFEST_INVALID"], () => parseManifest(m));
          if (isRefusal(first)) return;
          const again = parseManifest(JSON.parse(JSON.stringify(first)));
          if (JSON.stringify(again) !== JSON.stringify(first)) throw new Error("parseManifest is not idempotent");
        }),
      ),
    ),
    fuzzProperty(
      "withProjectRule: the hub's incident rule compiles into a manifest the agent accepts",
      { budgetMs: 500 },
      (b) =>
        fc.property(
          modelManifest,
          arbitraryOf(IncidentRule, { words: LABELS }) as fc.Arbitrary<IncidentRule>,
          fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 300 })),
          fc.subarray(LABELS),
          timed(b, (m, rule, extraLabels, okLabels) => {
            const labels = [...m.labels, ...Array.from({ length: extraLabels }, (_, i) => `${"l".repeat(60)}${i}`)];
            const base = codedSync(["KENSA_ERR_MANIFEST_INVALID"], () =>
              parseManifest({ ...m, labels, rules: undefined }),
            );
            if (isRefusal(base)) return;
            // past 256 finding labels a rule can only watch all of them: the project's OK labels are the model's
            const shipped = withProjectRule(base, rule, { okLabels: extraLabels ? base.okLabels : okLabels });
            const r = codedSync(["KENSA_ERR_MANIFEST_INVALID"], () =>
              parseManifest(JSON.parse(JSON.stringify(shipped))),
            );
            if (isRefusal(r)) throw new Error(`the compiled project rule is refused: ${r.message}`);
          }),
        ),
    ),
    fuzzProperty(
      "verifyManifest: bytes of the right hash are a manifest or KENSA_ERR_BUNDLE_LOAD_FAILED",
      { budgetMs: 500, weight: 2 },
      (b) =>
        fc.asyncProperty(
          fc.oneof(
            bundleManifest.map(encode),
            mutatedJson(bundleManifest).map(encode),
            mutatedBytes(bundleManifest.map(encode)),
            fc.uint8Array({ maxLength: 200 }),
          ),
          timedAsync(b, async (bytes) => {
            await coded(["KENSA_ERR_BUNDLE_LOAD_FAILED"], () => verifyManifest({ sha256: sha(bytes) }, bytes));
          }),
        ),
    ),
    fuzzProperty(
      "verifyManifest/verifyModel: any other hash is KENSA_ERR_BUNDLE_HASH_MISMATCH",
      { budgetMs: 500 },
      (b) =>
        fc.asyncProperty(
          bundleManifest,
          fc.stringMatching(/^[a-f0-9]{64}$/),
          timedAsync(b, async (m, other) => {
            const bytes = encode(m);
            const right = verifyManifest({ sha256: sha(bytes) }, bytes);
            verifyModel({ sha256: sha(bytes) }, right, right.model.sha256);
            if (other === sha(bytes) || other === right.model.sha256) return;
            for (const f of [
              () => verifyManifest({ sha256: other }, bytes),
              () => verifyModel({ sha256: sha(bytes) }, right, other),
              () => verifyModel({ sha256: sha(bytes), modelSha256: other }, right, right.model.sha256),
            ]) {
              const r = await coded(["KENSA_ERR_BUNDLE_HASH_MISMATCH"], f);
              if (!isRefusal(r)) throw new Error("a wrong hash was accepted");
            }
          }),
        ),
    ),
  ],
};
