import { ImportOptions, type LabelContent, parseWith } from "@kensa/contracts";
import fc from "fast-check";
import type { ArchiveEntry } from "../../../apps/hub/src/datasets/archive/archive-entry.js";
import { rleDecode } from "../../../apps/hub/src/datasets/formats/coco-rle.js";
import type {
  DatasetExporter,
  DatasetImporter,
  ExportItem,
} from "../../../apps/hub/src/datasets/formats/dataset-format.js";
import { defaultFormats } from "../../../apps/hub/src/datasets/formats/format-registry.js";
import { type FuzzTarget, fuzzProperty, timedAsync } from "../harness.js";
import { mutatedBytes, mutatedJson } from "../mutations.js";

const LABELS = ["ok", "scratch", "dent", "a b", "x/y"];
const FORMATS = ["imagefolder", "coco", "yolo", "voc", "masks"] as const;
type Format = (typeof FORMATS)[number];
const registry = defaultFormats();

/** An archive entry held in memory, as the archive readers hand them to importers. */
export function memoryEntry(path: string, data: Uint8Array): ArchiveEntry {
  return { path, kind: "file", size: data.length, read: async () => Buffer.from(data) };
}

/** Box-labeled samples with made-up image bytes: importers plan from names and annotations only. */
const exportItems: fc.Arbitrary<ExportItem[]> = fc
  .array(
    fc.record({
      width: fc.integer({ min: 1, max: 4000 }),
      height: fc.integer({ min: 1, max: 4000 }),
      format: fc.constantFrom("jpeg", "png"),
      labels: fc.array(fc.constantFrom(...LABELS), { minLength: 1, maxLength: 3 }),
      boxes: fc.array(
        fc.tuple(
          fc.double({ min: 0, max: 0.9, noNaN: true }),
          fc.double({ min: 0, max: 0.9, noNaN: true }),
          fc.double({ min: 0.01, max: 0.1, noNaN: true }),
          fc.double({ min: 0.01, max: 0.1, noNaN: true }),
        ),
        { maxLength: 3 },
      ),
    }),
    { minLength: 1, maxLength: 4 },
  )
  .map((rows) =>
    rows.map((r, i): ExportItem => {
      const objects = r.boxes.map(([x, y, w, h], k) => {
        // whole pixels inside the image: what a labeled sample holds
        const bw = Math.max(1, Math.round(w * r.width));
        const bh = Math.max(1, Math.round(h * r.height));
        return {
          label: r.labels[k % r.labels.length]!,
          box: {
            x: Math.min(Math.round(x * r.width), r.width - bw),
            y: Math.min(Math.round(y * r.height), r.height - bh),
            w: bw,
            h: bh,
          },
        };
      });
      const label: LabelContent = {
        classes: objects.length ? [...new Set(objects.map((o) => o.label))] : [r.labels[0]!],
        objects,
        anomaly: null,
      };
      return {
        sampleId: `s${i}`,
        name: `img_${i}`,
        image: { sha256: String(i).padStart(64, "0"), format: r.format, width: r.width, height: r.height },
        label,
      };
    }),
  );

async function exported(format: Format, items: ExportItem[]): Promise<Array<{ path: string; data: Uint8Array }>> {
  const exporter = registry.exporter(format) as DatasetExporter;
  const files: Array<{ path: string; data: Uint8Array }> = [];
  const ctx = {
    labels: LABELS,
    okLabels: ["ok"],
    readBlob: async (sha: string) => new TextEncoder().encode(`image ${sha}`),
    skip: () => {},
  };
  for await (const f of exporter.files(items, ctx)) files.push({ path: f.path, data: f.data });
  return files;
}

function options(format: Format, over: Record<string, unknown> = {}): ImportOptions {
  return parseWith(ImportOptions, { format, ...over });
}

/** One edit of an exported archive: an annotation broken, a file added, or a file renamed. */
const archiveEdit = fc.oneof(
  fc.record({ kind: fc.constant("json" as const), pick: fc.nat(), seed: fc.integer() }),
  fc.record({ kind: fc.constant("bytes" as const), pick: fc.nat() }),
  fc.record({
    kind: fc.constant("add" as const),
    path: fc.oneof(
      fc.constantFrom(
        "data.yaml",
        "classes.txt",
        "x.names",
        "annotations.json",
        "Annotations/img_0.xml",
        "labels/img_0.txt",
        "masks/img_0.png",
        "img_0_mask.png",
        "images/../img_0.jpg",
      ),
      fc.string({ maxLength: 20 }).map((s) => `${s}.jpg`),
    ),
    data: fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.string({ maxLength: 120 }).map((s) => new TextEncoder().encode(s)),
    ),
  }),
);

function jsonOf(b: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(b)) as unknown;
  } catch {
    return undefined;
  }
}

/** Applies edits in order; JSON files get structural edits, others byte edits. */
function applyEdits(
  files: Array<{ path: string; data: Uint8Array }>,
  edits: Array<{ kind: string; pick?: number; seed?: number; path?: string; data?: Uint8Array }>,
): Array<{ path: string; data: Uint8Array }> {
  const out = [...files];
  for (const e of edits) {
    if (e.kind === "add") {
      out.push({ path: e.path!, data: e.data! });
      continue;
    }
    const annotated = out.filter((f) => !/\.(jpe?g|png)$/i.test(f.path) || f.path.includes("mask"));
    const target = annotated[(e.pick ?? 0) % Math.max(1, annotated.length)];
    if (!target) continue;
    const i = out.indexOf(target);
    const doc = e.kind === "json" ? jsonOf(target.data) : undefined;
    if (doc !== undefined) {
      const broken = fc.sample(mutatedJson(fc.constant(doc)), { numRuns: 1, seed: e.seed ?? 0 })[0];
      out[i] = { path: target.path, data: new TextEncoder().encode(JSON.stringify(broken) ?? "") };
    } else {
      out[i] = {
        path: target.path,
        data: fc.sample(mutatedBytes(fc.constant(target.data), 3), { numRuns: 1, seed: (e.pick ?? 0) | 0 })[0]!,
      };
    }
  }
  return out;
}

/**
 * Dataset importers (apps/hub/src/datasets/formats): the plan of an exported archive with
 * broken annotations, extra files and hostile names; and export → import keeps every box.
 */
export const datasetImportersTarget: FuzzTarget = {
  name: "dataset-importers",
  covers: "dataset importers COCO, YOLO, VOC, ImageFolder, masks (apps/hub/src/datasets/formats) and COCO RLE",
  properties: [
    fuzzProperty(
      "plan: broken annotations become coded per-item failures, never a throw",
      { budgetMs: 1_000, weight: 3 },
      (b) =>
        fc.asyncProperty(
          fc.constantFrom(...FORMATS),
          exportItems,
          fc.array(archiveEdit, { minLength: 1, maxLength: 3 }),
          timedAsync(b, async (format, items, edits) => {
            const files = applyEdits(await exported(format, items), edits);
            const entries = files.map((f) => memoryEntry(f.path, f.data));
            const importer = registry.importer(format) as DatasetImporter;
            const plan = await importer.plan(entries, { options: options(format), labels: LABELS, okLabels: ["ok"] });
            for (const f of plan.failed)
              if (!/^KENSA_ERR_[A-Z_]+$/.test(f.code)) throw new Error(`uncoded failure ${JSON.stringify(f)}`);
            for (const it of plan.items) {
              if (!entries.includes(it.image)) throw new Error(`planned image ${it.item} is not an archive entry`);
              for (const o of it.label?.objects ?? []) {
                if (o.mask?.type !== "rle") continue;
                try {
                  rleDecode(o.mask.rle, { width: 4000, height: 4000 });
                } catch (err) {
                  if (!(err instanceof Error)) throw err;
                }
              }
            }
          }),
        ),
    ),
    fuzzProperty("export → import: every box and class comes back", { budgetMs: 1_000, weight: 2 }, (b) =>
      fc.asyncProperty(
        fc.constantFrom("coco", "yolo", "voc", "imagefolder") satisfies fc.Arbitrary<Format>,
        exportItems,
        timedAsync(b, async (format, items) => {
          const files = await exported(format, items);
          const importer = registry.importer(format) as DatasetImporter;
          const plan = await importer.plan(
            files.map((f) => memoryEntry(f.path, f.data)),
            { options: options(format), labels: LABELS, okLabels: ["ok"] },
          );
          const single = format === "imagefolder" ? items.filter((it) => it.label.classes.length === 1) : items;
          if (plan.failed.length || plan.items.length !== single.length) {
            throw new Error(`${plan.items.length} planned of ${single.length}, failed ${JSON.stringify(plan.failed)}`);
          }
          for (const it of single) {
            const got = plan.items.find((p) => p.item.split("/").pop()!.startsWith(`${it.name}.`));
            if (!got?.label) throw new Error(`${it.name} came back without a label`);
            if (format === "imagefolder") {
              if (got.label.classes[0] !== it.label.classes[0]!.replace(/[/\\]/g, "_"))
                throw new Error("class changed");
              continue;
            }
            const want = it.label.objects
              .map((o) => `${o.label}@${o.box!.x},${o.box!.y},${o.box!.w},${o.box!.h}`)
              .sort();
            const back = got.label.objects
              .map((o) => {
                const bx = o.box!;
                const [sx, sy] = bx.normalized ? [it.image.width, it.image.height] : [1, 1];
                const r = (v: number) => Math.round(v);
                return `${o.label}@${r(bx.x * sx)},${r(bx.y * sy)},${r(bx.w * sx)},${r(bx.h * sy)}`;
              })
              .sort();
            if (JSON.stringify(want) !== JSON.stringify(back))
              throw new Error(`boxes ${JSON.stringify(want)} came back as ${JSON.stringify(back)}`);
          }
        }),
      ),
    ),
    fuzzProperty(
      "COCO RLE: any counts decode to the stated size or refuse, without a giant buffer",
      { budgetMs: 500, weight: 2 },
      (b) =>
        fc.asyncProperty(
          fc.record({
            size: fc.tuple(
              fc.oneof(fc.integer({ min: -2, max: 64 }), fc.constantFrom(1e9, 2 ** 31, 0.5, Number.NaN)),
              fc.oneof(fc.integer({ min: -2, max: 64 }), fc.constantFrom(1e9, 2 ** 31, 0.5, Number.NaN)),
            ),
            counts: fc.oneof(
              fc.array(fc.oneof(fc.integer({ min: -5, max: 300 }), fc.constantFrom(0.5, 1e12)), { maxLength: 20 }),
              fc.string({ maxLength: 30 }),
            ),
          }),
          timedAsync(b, async (rle) => {
            const image = { width: 64, height: 64 };
            let m: ReturnType<typeof rleDecode>;
            try {
              m = rleDecode(rle as { size: [number, number]; counts: number[] | string }, image);
            } catch (err) {
              if (!(err instanceof Error) || err.constructor !== Error) throw err;
              return;
            }
            if (m.width !== image.width || m.height !== image.height || m.data.length !== 64 * 64)
              throw new Error("decoded to another size");
          }),
        ),
    ),
  ],
};
