import { canonicalJson, type LabelContent, type LabelObject, sha256Hex } from "@kensa/contracts";

/** Coordinates are kept to 0.01 px: enough for any annotation tool, and hashes stay stable. */
export function roundPx(v: number): number {
  return Math.round(v * 100) / 100;
}

/**
 * The one form of a label that is hashed and stored: classes sorted and distinct, objects in
 * a canonical order, coordinates rounded. Two labels that say the same thing hash the same,
 * whatever order a file listed them in.
 */
export function canonicalLabel(c: Partial<LabelContent>): LabelContent {
  const objects: LabelObject[] = (c.objects ?? []).map((o) => {
    const out: LabelObject = { label: o.label };
    if (o.box) out.box = { x: roundPx(o.box.x), y: roundPx(o.box.y), w: roundPx(o.box.w), h: roundPx(o.box.h) };
    if (o.mask) out.mask = o.mask;
    return out;
  });
  const keyed = objects
    .map((o) => [canonicalJson(o), o] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return {
    classes: [...new Set(c.classes ?? [])].sort(),
    objects: keyed.map(([, o]) => o),
    anomaly: c.anomaly ?? null,
  };
}

/** sha256 of the canonical JSON of a canonical label */
export function labelSha256(c: LabelContent): string {
  return sha256Hex(canonicalJson(c));
}

/** Every class a label uses: its image classes and its objects' labels. */
export function classesOf(c: LabelContent): string[] {
  return [...new Set([...c.classes, ...c.objects.map((o) => o.label)])];
}

/**
 * Why a label does not fit its project or image, or null. Boxes may touch the border
 * (0.01 px tolerance for rounding) but not leave the image.
 */
export function labelProblem(
  c: LabelContent,
  labels: readonly string[],
  image: { width: number; height: number } | null,
): string | null {
  const unknown = classesOf(c).filter((l) => !labels.includes(l));
  if (unknown.length > 0) {
    return `class(es) ${unknown.map((l) => `"${l}"`).join(", ")} not in the project's labels [${labels.join(", ")}]`;
  }
  if (image) {
    for (const o of c.objects) {
      const b = o.box;
      if (b && (b.x + b.w > image.width + 0.01 || b.y + b.h > image.height + 0.01)) {
        return `box ${JSON.stringify(b)} of "${o.label}" leaves the ${image.width}×${image.height} image`;
      }
    }
  }
  return null;
}
