/**
 * The long fuzz run: every target of test/fuzz with its share of KENSA_FUZZ_CASES generated
 * cases (100,000 by default), a fresh seed per run. Reports cases, failures and time per
 * target; a failure's seed and counterexample go in the notes so it can be replayed.
 */
import { runTarget } from "../test/fuzz/harness.js";
import { cleanupArchiveFiles, fuzzTargets } from "../test/fuzz/targets/index.js";
import { table } from "./report.js";

export async function fuzzSection(): Promise<{ markdown: string; data: unknown }> {
  const total = Number(process.env.KENSA_FUZZ_CASES ?? 100_000);
  const seed = Date.now() % 2 ** 31;
  const rows: Array<{ target: string; covers: string; cases: number; failures: number; ms: number; failure?: string }> =
    [];
  try {
    for (const { target, share } of fuzzTargets) {
      console.error(`bench: fuzz ${target.name} …`);
      const o = await runTarget(target, Math.round(total * share), seed);
      rows.push({
        target: target.name,
        covers: target.covers,
        cases: o.cases,
        failures: o.failures,
        ms: o.ms,
        ...(o.failure ? { failure: o.failure } : {}),
      });
    }
  } finally {
    cleanupArchiveFiles();
  }
  const sum = (k: "cases" | "failures" | "ms") => rows.reduce((s, r) => s + r[k], 0);
  const body = table(
    ["target", "covers", "cases", "failing properties", "time", "cases/s"],
    [
      ...rows.map((r) => [
        r.target,
        r.covers,
        r.cases,
        r.failures,
        `${(r.ms / 1000).toFixed(1)} s`,
        Math.round(r.cases / (r.ms / 1000)),
      ]),
      [
        "**all**",
        "",
        sum("cases"),
        sum("failures"),
        `${(sum("ms") / 1000).toFixed(1)} s`,
        Math.round(sum("cases") / (sum("ms") / 1000)),
      ],
    ],
  );
  const failures = rows.filter((r) => r.failure).map((r) => `- ${r.target}: ${r.failure}`);
  const markdown = [
    `Seed ${seed}. Each case must finish within its property's budget (0.5–2 s) and may fail only with a coded error (KensaError) or the module's documented failure value. The fast subset runs in \`npm test\` (test/fuzz/fuzz.test.ts).`,
    "",
    body,
    ...(failures.length ? ["", "Failures (replay with the seed and path):", ...failures] : []),
  ].join("\n");
  return { markdown, data: { seed, rows } };
}
