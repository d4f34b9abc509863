import type { DatasetFormat, ImportOptions, ItemFailure, LabelContent } from "@kensa/contracts";
import type { ArchiveEntry } from "../archive/archive-entry.js";
import type { CocoRle } from "./coco-rle.js";

/** A box as a file states it; `normalized` boxes (YOLO) are fractions of the image size. */
export interface RawBox {
  x: number;
  y: number;
  w: number;
  h: number;
  normalized?: boolean;
}

export type RawMask =
  | { type: "png"; entry: ArchiveEntry }
  | { type: "rle"; rle: CocoRle }
  | { type: "polygons"; polygons: number[][]; normalized?: boolean };

export interface RawObject {
  /** the class as the file names it, before `classMap` */
  label: string;
  box?: RawBox;
  mask?: RawMask;
}

export interface RawLabel {
  /** image-level classes as the file names them; ignored when `deriveClasses` */
  classes: string[];
  objects: RawObject[];
  /** classes are the distinct object labels (detection and segmentation formats) */
  deriveClasses: boolean;
}

export interface PlannedItem {
  /** the image's path in the archive: the item's name in results */
  item: string;
  image: ArchiveEntry;
  /** null: the image is imported unlabeled */
  label: RawLabel | null;
}

export interface ImportPlan {
  items: PlannedItem[];
  failed: ItemFailure[];
  /** files that belong to no item */
  ignored: number;
}

export interface ImportContext {
  options: ImportOptions;
  labels: readonly string[];
  okLabels: readonly string[];
}

/** Reads one dataset layout from archive entries (safe, regular files only, relative to `root`). */
export interface DatasetImporter {
  readonly type: DatasetFormat;
  plan(entries: ArchiveEntry[], ctx: ImportContext): Promise<ImportPlan>;
}

export interface ExportItem {
  sampleId: string;
  /** a unique, file-system-safe base name (no extension) */
  name: string;
  image: { sha256: string; format: string; width: number; height: number };
  label: LabelContent;
}

export interface ExportContext {
  labels: readonly string[];
  okLabels: readonly string[];
  readBlob(sha256: string): Promise<Uint8Array>;
  /** samples the format cannot express, with why (listed in kensa-export.json) */
  skip(sampleId: string, reason: string): void;
}

export interface ExportFile {
  path: string;
  data: Uint8Array;
}

/** Writes one dataset layout; files are yielded in a deterministic order. */
export interface DatasetExporter {
  readonly type: DatasetFormat;
  files(items: ExportItem[], ctx: ExportContext): AsyncIterable<ExportFile>;
}

export const IMAGE_EXT = /\.(jpe?g|png)$/i;

export function stemOf(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  return dot > 0 ? base.slice(0, dot) : base;
}

export function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "" : path.slice(0, i);
}

export function extOf(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : "";
}

export function imageExt(format: string): string {
  return format === "png" ? "png" : "jpg";
}

export function fail(item: string, code: ItemFailure["code"], message: string): ItemFailure {
  return { item, code, message };
}
