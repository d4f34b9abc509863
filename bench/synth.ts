/** How many frames per second the synthetic camera renders (render + JPEG, one core). */
import { measureSynthSpeed } from "@kensa/synth";
import { table } from "./report.js";

export async function synthSpeedSection() {
  const rows = await measureSynthSpeed({ durationMs: 1500 });
  const markdown = [
    "Frames per second of one synthetic camera (render, JPEG encode and, with masks, the PNG",
    "mask), single-threaded; a simulated device needs 2–10.",
    "",
    table(
      ["surface", "size", "masks", "frames/s"],
      rows.map((r) => [r.surface, `${r.width}×${r.height}`, r.masks ? "yes" : "no", Math.round(r.fps)]),
    ),
  ].join("\n");
  return { markdown, data: rows };
}
