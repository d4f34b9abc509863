/**
 * Frames per second of one synthetic camera per surface and size, with and without masks.
 *
 *   node --import tsx packages/synth/bench/synth-speed.ts [ms per row, default 1000]
 */
import { cpus } from "node:os";
import { measureSynthSpeed } from "../src/index.js";

const durationMs = Number(process.argv[2] ?? 1000);
console.log(`@kensa/synth speed on ${cpus()[0]?.model ?? "?"} (${cpus().length} cores), node ${process.version}`);
console.log("one camera, sequential: render + JPEG encode (+ PNG mask), default defect rate 0.3\n");
console.log(`${"surface".padEnd(14)} ${"size".padEnd(8)} ${"masks".padEnd(6)} frames/s`);
for (const r of await measureSynthSpeed({ durationMs })) {
  console.log(
    `${r.surface.padEnd(14)} ${`${r.width}x${r.height}`.padEnd(8)} ${String(r.masks).padEnd(6)} ${r.fps.toFixed(1).padStart(8)}`,
  );
}
