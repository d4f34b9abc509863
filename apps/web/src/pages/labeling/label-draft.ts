import type { LabelBox, LabelContent, LabelObject, Task } from "@kensa/contracts";
import { isEmptyMask, type MaskBitmap } from "./mask-bitmap";

/**
 * A mask: `sha` is the stored blob it still equals (its pixels come from the mask cache), or
 * null once it was painted on, and then `bitmap` holds the new pixels.
 */
export interface DraftMask {
  sha: string | null;
  bitmap: MaskBitmap | null;
}

export interface DraftObject {
  /** local identity for selection and React keys; never sent */
  key: string;
  label: string;
  box?: LabelBox;
  mask?: DraftMask;
}

export interface Draft {
  classes: string[];
  objects: DraftObject[];
  anomaly: boolean | null;
}

let nextKey = 1;
export const newObjectKey = (): string => `o${nextKey++}`;

export function draftFromContent(c: LabelContent | null | undefined): Draft {
  return {
    classes: [...(c?.classes ?? [])],
    objects: (c?.objects ?? []).map((o) => ({
      key: newObjectKey(),
      label: o.label,
      ...(o.box ? { box: { ...o.box } } : {}),
      ...(o.mask ? { mask: { sha: o.mask, bitmap: null } } : {}),
    })),
    anomaly: c?.anomaly ?? null,
  };
}

/**
 * Image classes as saved. Detection and segmentation labels list their objects' labels as
 * classes (as imports write them); a classification label's classes are only what the person
 * chose, since a box drawn on it must not silently add a second class to a one-class image.
 */
export function effectiveClasses(d: Draft, task: Task): string[] {
  const fromObjects = task === "detection" || task === "segmentation" ? d.objects.map((o) => o.label) : [];
  return [...new Set([...d.classes, ...fromObjects])].sort();
}

const r2 = (v: number) => Math.round(v * 100) / 100;

/** Gives stored masks their pixels (from the cache) for drawing and painting. */
export function resolveMasks(d: Draft, cache: ReadonlyMap<string, MaskBitmap>): Draft {
  return {
    ...d,
    objects: d.objects.map((o) =>
      o.mask?.sha && !o.mask.bitmap ? { ...o, mask: { sha: o.mask.sha, bitmap: cache.get(o.mask.sha) ?? null } } : o,
    ),
  };
}

/**
 * A key that changes exactly when saving would store something else; the hub rounds boxes to
 * 0.01 px, so a box nudged by less than that is not a change.
 */
export function draftKey(d: Draft, task: Task): string {
  const objects = d.objects
    .map((o) => ({
      label: o.label,
      box: o.box ? [r2(o.box.x), r2(o.box.y), r2(o.box.w), r2(o.box.h)] : null,
      // an edited mask has no sha; its bitmap object identity stands for its pixels
      mask: o.mask ? (o.mask.sha ?? `edited:${bitmapId(o.mask.bitmap)}`) : null,
    }))
    .map((o) => JSON.stringify(o))
    .sort();
  return JSON.stringify({ classes: effectiveClasses(d, task), objects, anomaly: d.anomaly });
}

const ids = new WeakMap<object, number>();
let nextId = 1;
function bitmapId(b: MaskBitmap | null): number {
  if (!b) return 0;
  let id = ids.get(b);
  if (!id) {
    id = nextId++;
    ids.set(b, id);
  }
  return id;
}

/**
 * The label content to post. Edited masks are uploaded first (`uploadMask` returns the blob's
 * sha256); a mask erased to nothing is dropped, and an object left with neither box nor mask
 * is dropped with it.
 */
export async function draftToContent(
  d: Draft,
  task: Task,
  uploadMask: (m: MaskBitmap) => Promise<string>,
): Promise<LabelContent> {
  const objects: LabelObject[] = [];
  for (const o of d.objects) {
    const out: LabelObject = { label: o.label };
    if (o.box) out.box = { ...o.box };
    if (o.mask) {
      if (o.mask.sha) out.mask = o.mask.sha;
      else if (o.mask.bitmap && !isEmptyMask(o.mask.bitmap)) out.mask = await uploadMask(o.mask.bitmap);
    }
    if (out.box || out.mask) objects.push(out);
  }
  return {
    classes: effectiveClasses({ ...d, objects: d.objects.filter((o) => o.box || o.mask) }, task),
    objects,
    anomaly: d.anomaly,
  };
}

// ---- the editing reducer, with undo -----------------------------------------------------

export interface DraftHistory {
  past: Draft[];
  present: Draft;
  future: Draft[];
}

export type DraftAction =
  | { type: "reset"; draft: Draft }
  /** the whole label at once (a revision restored from the history), undoable */
  | { type: "replace"; draft: Draft }
  | { type: "toggleClass"; label: string }
  | { type: "setAnomaly"; value: boolean | null }
  | { type: "add"; object: DraftObject }
  | { type: "setBox"; key: string; box: LabelBox }
  | { type: "setMask"; key: string; bitmap: MaskBitmap }
  | { type: "relabel"; key: string; label: string }
  | { type: "remove"; key: string }
  | { type: "undo" }
  | { type: "redo" };

/** Undo depth; masks are width × height bytes each, so the history is bounded. */
const MAX_UNDO = 100;

function edit(h: DraftHistory, next: Draft): DraftHistory {
  return { past: [...h.past.slice(-(MAX_UNDO - 1)), h.present], present: next, future: [] };
}

function mapObject(d: Draft, key: string, f: (o: DraftObject) => DraftObject): Draft {
  return { ...d, objects: d.objects.map((o) => (o.key === key ? f(o) : o)) };
}

export function draftReducer(h: DraftHistory, a: DraftAction): DraftHistory {
  const d = h.present;
  switch (a.type) {
    case "reset":
      return { past: [], present: a.draft, future: [] };
    case "replace":
      return edit(h, a.draft);
    case "toggleClass":
      return edit(h, {
        ...d,
        classes: d.classes.includes(a.label) ? d.classes.filter((c) => c !== a.label) : [...d.classes, a.label],
      });
    case "setAnomaly":
      return edit(h, { ...d, anomaly: a.value });
    case "add":
      return edit(h, { ...d, objects: [...d.objects, a.object] });
    case "setBox":
      return edit(
        h,
        mapObject(d, a.key, (o) => ({ ...o, box: a.box })),
      );
    case "setMask":
      return edit(
        h,
        mapObject(d, a.key, (o) => ({ ...o, mask: { sha: null, bitmap: a.bitmap } })),
      );
    case "relabel":
      return edit(
        h,
        mapObject(d, a.key, (o) => ({ ...o, label: a.label })),
      );
    case "remove":
      return edit(h, { ...d, objects: d.objects.filter((o) => o.key !== a.key) });
    case "undo": {
      const prev = h.past.at(-1);
      return prev ? { past: h.past.slice(0, -1), present: prev, future: [d, ...h.future] } : h;
    }
    case "redo": {
      const next = h.future[0];
      return next ? { past: [...h.past, d], present: next, future: h.future.slice(1) } : h;
    }
  }
}
