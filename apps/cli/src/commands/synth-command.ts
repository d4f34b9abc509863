import { resolve } from "node:path";
import { KensaError } from "@kensa/contracts";
import { type DatasetFormat, hardPreset, writeSyntheticDataset } from "@kensa/synth";
import { type Command, Option } from "commander";
import { intFlag, numberFlag } from "../cli-input.js";

/** the dataset layout `kensa synth` writes for each task, one `kensa dataset import --format` takes */
export const synthFormatOf: Record<string, DatasetFormat> = {
  classification: "imagefolder",
  detection: "yolo",
  segmentation: "coco",
};

interface SynthFlags {
  task: string;
  count: number;
  size: string;
  seed: number;
  defectRate: number;
  defectClass: string;
  byType?: boolean;
  out: string;
  hard?: boolean;
  faint?: number;
  drift?: number;
  texture?: number;
  blur?: number;
  noise?: number;
}

const hardnessKeys = ["faint", "drift", "texture", "blur", "noise"] as const;

/**
 * `kensa synth --out <dir>`: a labelled dataset of synthetic defect frames (brushed metal with
 * spots, scratches and stains), written in the layout `kensa dataset import` takes for the task.
 */
export function registerSynthCommand(program: Command): void {
  program
    .command("synth")
    .description("write a labelled dataset of synthetic defect frames, ready for `kensa dataset import`")
    .addOption(
      new Option("--task <task>", "classification: ImageFolder; detection: YOLO; segmentation: COCO")
        .choices(Object.keys(synthFormatOf))
        .default("classification"),
    )
    .option("--count <n>", "frames to write", intFlag("--count", 1, 1_000_000), 200)
    .option("--size <WxH>", "frame size in px, each side 32 to 8192", "320x240")
    .option("--seed <n>", "the same seed writes the same frames", intFlag("--seed", 0), 1)
    .option("--defect-rate <r>", "share of frames with a defect", numberFlag("--defect-rate", { min: 0, max: 1 }), 0.5)
    .option("--defect-class <name>", "classification: the class of defective frames", "defect")
    .option("--by-type", "classification: one class per defect type (spot, scratch, stain) instead")
    .option("--hard", "the demo's inspection task: --faint 0.35 --drift 0.6 --texture 2 --blur 0.1 --noise 0.02")
    .option("--faint <r>", "share of defective frames with faint defects (20–55 % contrast)", unit("--faint"))
    .option("--drift <a>", "slow lighting drift over the frame index, 0..1", unit("--drift"))
    .option("--texture <k>", "surface texture amplitude, 1 = default", numberFlag("--texture", { min: 0, max: 4 }))
    .option("--blur <r>", "share of frames blurred along one axis", unit("--blur"))
    .option("--noise <sd>", "sensor noise SD in luminance (default 0.012)", numberFlag("--noise", { min: 0, max: 0.2 }))
    .requiredOption("--out <dir>", "the folder to write (created; files of the same name are replaced)")
    .action(async (o: SynthFlags) => {
      const [width, height] = parseSize(o.size);
      const format = synthFormatOf[o.task]!;
      if (o.defectClass === "ok" || !/^[^/\\.][^/\\]*$/.test(o.defectClass)) {
        throw new KensaError(
          "KENSA_ERR_FLAG_INVALID",
          `--defect-class must be a folder name other than "ok" (the class of frames without defect), got '${o.defectClass}'`,
        );
      }
      const started = Date.now();
      let summary: Awaited<ReturnType<typeof writeSyntheticDataset>>;
      try {
        summary = await writeSyntheticDataset(o.out, {
          count: o.count,
          format,
          seed: o.seed,
          width,
          height,
          defectRate: o.defectRate,
          // --hard first, single flags over it
          ...(o.hard ? hardPreset : {}),
          ...Object.fromEntries(hardnessKeys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]])),
          ...(format === "imagefolder" && !o.byType ? { defectClass: o.defectClass } : {}),
        });
      } catch (err) {
        if (err instanceof RangeError) throw new KensaError("KENSA_ERR_FLAG_INVALID", err.message);
        throw err;
      }
      const classes = Object.entries(summary.classes)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([c, n]) => `${c} ${n}`)
        .join(", ");
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      console.log(`wrote ${summary.images} frames (${width}×${height}, ${format}) to ${resolve(o.out)} in ${secs} s`);
      console.log(`  images per class: ${classes}`);
      if (format !== "imagefolder") {
        const inst = Object.entries(summary.instances).map(([t, n]) => `${t} ${n}`);
        console.log(`  defects: ${inst.join(", ") || "none"}`);
      }
      console.log(`import it with: kensa dataset import ${o.out} --project <project> --format ${format}`);
    });
}

function unit(flag: string) {
  return numberFlag(flag, { min: 0, max: 1 });
}

function parseSize(size: string): [number, number] {
  const m = /^(\d+)x(\d+)$/i.exec(size.trim());
  const w = Number(m?.[1]);
  const h = Number(m?.[2]);
  if (!m || w < 32 || h < 32 || w > 8192 || h > 8192) {
    throw new KensaError(
      "KENSA_ERR_FLAG_INVALID",
      `--size must be WxH, each side 32 to 8192, e.g. 320x240, got '${size}'`,
    );
  }
  return [w, h];
}
