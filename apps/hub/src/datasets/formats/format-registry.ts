import type { DatasetFormat } from "@kensa/contracts";
import { cocoExporter, cocoImporter } from "./coco-format.js";
import type { DatasetExporter, DatasetImporter } from "./dataset-format.js";
import { imageFolderExporter, imageFolderImporter } from "./image-folder-format.js";
import { maskFolderExporter, maskFolderImporter } from "./mask-folder-format.js";
import { vocExporter, vocImporter } from "./voc-format.js";
import { yoloExporter, yoloImporter } from "./yolo-format.js";

/** Importers and exporters keyed by format name; a new format registers here. */
export class FormatRegistry {
  #importers = new Map<DatasetFormat, DatasetImporter>();
  #exporters = new Map<DatasetFormat, DatasetExporter>();

  constructor(importers: DatasetImporter[], exporters: DatasetExporter[]) {
    for (const i of importers) this.#importers.set(i.type, i);
    for (const e of exporters) this.#exporters.set(e.type, e);
  }

  importer(type: DatasetFormat): DatasetImporter {
    const i = this.#importers.get(type);
    if (!i) throw new Error(`no importer for ${type}`);
    return i;
  }

  exporter(type: DatasetFormat): DatasetExporter {
    const e = this.#exporters.get(type);
    if (!e) throw new Error(`no exporter for ${type}`);
    return e;
  }
}

export function defaultFormats(): FormatRegistry {
  return new FormatRegistry(
    [imageFolderImporter, cocoImporter, yoloImporter, vocImporter, maskFolderImporter],
    [imageFolderExporter, cocoExporter, yoloExporter, vocExporter, maskFolderExporter],
  );
}
