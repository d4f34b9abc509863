import { headlineOf, type InferenceResult } from "@kensa/contracts";
import sharp from "sharp";

export interface AnnotationBox {
  /** px in the frame */
  x: number;
  y: number;
  width: number;
  height: number;
  label?: string;
  score?: number;
}

/** What the status page draws over a frame. */
export interface Annotation {
  /** caption, e.g. "defect 0.93" or "no model loaded" */
  text: string;
  /** red when true, green when false, grey when undefined (no result) */
  finding: boolean | undefined;
  boxes: AnnotationBox[];
}

/** The overlay of an inference result: its headline as the caption, and its boxes (detections, regions). */
export function annotationOf(result: InferenceResult): Annotation {
  const head = headlineOf(result);
  const items =
    result.task === "classification" ? [] : result.task === "detection" ? result.detections : result.regions;
  return {
    text: head ? `${head.label} ${head.score.toFixed(2)}` : "nothing found",
    finding: result.finding,
    boxes: items.map((it) => ({
      x: it.box[0],
      y: it.box[1],
      width: it.box[2],
      height: it.box[3],
      label: it.label,
      score: it.score,
    })),
  };
}

const colors = { finding: "#e5484d", ok: "#30a46c", none: "#8b8d98" };

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The SVG drawn over a `width`×`height` frame: the result's boxes and its caption top-left, as a
 * badge in the verdict's colour. No border around the whole frame: over a classification result
 * (which has no boxes) it read as one whole-frame detection.
 */
export function overlaySvg(width: number, height: number, a: Annotation): string {
  const color = a.finding === undefined ? colors.none : a.finding ? colors.finding : colors.ok;
  const stroke = Math.max(2, Math.round(Math.min(width, height) / 80));
  const font = Math.max(12, Math.round(width / 28));
  const captionWidth = Math.min(width, Math.round(a.text.length * font * 0.62) + font);
  const boxes = a.boxes
    .map((b) => {
      const caption = [b.label, b.score === undefined ? undefined : b.score.toFixed(2)].filter(Boolean).join(" ");
      return (
        `<rect x="${b.x}" y="${b.y}" width="${b.width}" height="${b.height}" fill="none" stroke="${color}" stroke-width="${stroke}"/>` +
        (caption
          ? `<text x="${b.x + stroke}" y="${Math.max(font, b.y - stroke)}" font-family="sans-serif" font-size="${Math.round(font * 0.8)}" fill="${color}">${esc(caption)}</text>`
          : "")
      );
    })
    .join("");
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    boxes +
    `<rect x="0" y="0" width="${captionWidth}" height="${Math.round(font * 1.5)}" fill="${color}"/>` +
    `<text x="${Math.round(font / 2)}" y="${Math.round(font * 1.1)}" font-family="sans-serif" font-size="${font}" fill="#fff">${esc(a.text)}</text>` +
    "</svg>"
  );
}

/** The frame as a JPEG with the annotation composited on it (sharp renders the SVG). */
export async function annotateFrame(image: Uint8Array, a: Annotation): Promise<Buffer> {
  const img = sharp(image, { failOn: "none" }).rotate();
  const { width = 0, height = 0 } = await img.metadata();
  if (width === 0 || height === 0) throw new Error("the frame has no size");
  return img
    .composite([{ input: Buffer.from(overlaySvg(width, height, a)), top: 0, left: 0 }])
    .jpeg({ quality: 80 })
    .toBuffer();
}
