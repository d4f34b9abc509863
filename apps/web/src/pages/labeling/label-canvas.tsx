import type { LabelBox } from "@kensa/contracts";
import { type PointerEvent as ReactPointerEvent, useEffect, useLayoutEffect, useRef, useState } from "react";
import { labelColor, rgbOf } from "./label-colors";
import type { Draft, DraftObject } from "./label-draft";
import { cloneMask, emptyMask, type MaskBitmap, type Point, strokeMask } from "./mask-bitmap";

export type Tool = "box" | "brush" | "eraser" | "polygon";

export interface LabelCanvasProps {
  imageUrl: string;
  width: number;
  height: number;
  labels: readonly string[];
  draft: Draft;
  /** a revision preview: drawn, not editable */
  readOnly: boolean;
  tool: Tool;
  /** brush and eraser radius, image px */
  brushSize: number;
  selectedKey: string | null;
  onSelect(key: string | null): void;
  /** label for objects drawn from nothing */
  newLabel: string;
  onAddObject(o: Omit<DraftObject, "key">): void;
  onSetBox(key: string, box: LabelBox): void;
  /** a finished brush or eraser stroke: the new pixels of `key`'s mask, or a new object's */
  onStroke(key: string | null, bitmap: MaskBitmap): void;
  polygon: Point[];
  onPolygon(points: Point[]): void;
  onClosePolygon(): void;
}

type Handle = "nw" | "ne" | "sw" | "se";

type Gesture =
  | { kind: "draw"; from: Point; box: LabelBox }
  | { kind: "move"; key: string; from: Point; start: LabelBox; box: LabelBox }
  | { kind: "resize"; key: string; anchor: Point; box: LabelBox }
  | { kind: "stroke"; key: string | null; last: Point; bitmap: MaskBitmap; value: 0 | 255 };

/** Smallest box kept, image px: a click without a drag must not leave a speck. */
const MIN_BOX = 2;
/** Handle and hit sizes, CSS px, whatever the zoom. */
const HANDLE_PX = 10;
const CLOSE_PX = 10;

/**
 * The image at its natural resolution with the label drawn over it: masks on a canvas of the
 * image's own size (one canvas pixel per image pixel, so what is painted is what is saved),
 * boxes and the polygon on an SVG in image coordinates. Pointer gestures stay local until they
 * end, then become one undoable edit.
 */
export function LabelCanvas(p: LabelCanvasProps) {
  const svgRef = useRef<SVGSVGElement>(null);
  const maskRef = useRef<HTMLCanvasElement>(null);
  const [gesture, setGesture] = useState<Gesture | null>(null);
  const [cursor, setCursor] = useState<Point | null>(null);
  // image px per CSS px: keeps handles and strokes a constant size on screen
  const [scale, setScale] = useState(1);

  useLayoutEffect(() => {
    const svg = svgRef.current;
    if (!svg) return;
    const measure = () => {
      const w = svg.getBoundingClientRect().width;
      if (w > 0) setScale(p.width / w);
    };
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(svg);
    return () => ro.disconnect();
  }, [p.width]);

  // masks: repainted whole; a 1-megapixel image takes a few ms, fast enough during a stroke
  useEffect(() => {
    const canvas = maskRef.current;
    const ctx = canvas?.getContext("2d");
    if (!canvas || !ctx) return;
    const img = ctx.createImageData(p.width, p.height);
    const px = img.data;
    const live = gesture?.kind === "stroke" ? gesture : null;
    const layers: Array<{ bitmap: MaskBitmap; label: string; selected: boolean }> = [];
    for (const o of p.draft.objects) {
      const bitmap = live && live.key === o.key ? live.bitmap : o.mask?.bitmap;
      if (bitmap) layers.push({ bitmap, label: o.label, selected: o.key === p.selectedKey });
    }
    if (live && live.key === null) layers.push({ bitmap: live.bitmap, label: p.newLabel, selected: true });
    for (const l of layers) {
      if (l.bitmap.width !== p.width || l.bitmap.height !== p.height) continue;
      const [r, g, b] = rgbOf(labelColor(p.labels, l.label));
      const a = l.selected ? 150 : 100;
      const data = l.bitmap.data;
      for (let i = 0; i < data.length; i++) {
        if (!data[i]) continue;
        px[4 * i] = r;
        px[4 * i + 1] = g;
        px[4 * i + 2] = b;
        px[4 * i + 3] = a;
      }
    }
    ctx.putImageData(img, 0, 0);
  }, [p.draft, p.width, p.height, p.labels, p.selectedKey, p.newLabel, gesture]);

  const toImage = (e: { clientX: number; clientY: number }): Point => {
    const r = svgRef.current!.getBoundingClientRect();
    const x = ((e.clientX - r.left) / r.width) * p.width;
    const y = ((e.clientY - r.top) / r.height) * p.height;
    return [clamp(x, 0, p.width), clamp(y, 0, p.height)];
  };

  const selected = p.draft.objects.find((o) => o.key === p.selectedKey) ?? null;

  const onPointerDown = (e: ReactPointerEvent<SVGSVGElement>) => {
    if (p.readOnly || e.button !== 0) return;
    const pt = toImage(e);
    const target = e.target as Element;
    const objectKey = target.getAttribute("data-key");
    const handle = target.getAttribute("data-handle") as Handle | null;
    let g: Gesture | null = null;
    if (p.tool === "box") {
      const obj = objectKey ? p.draft.objects.find((o) => o.key === objectKey) : undefined;
      if (obj?.box && handle) {
        g = { kind: "resize", key: obj.key, anchor: oppositeCorner(obj.box, handle), box: obj.box };
      } else if (obj?.box) {
        p.onSelect(obj.key);
        g = { kind: "move", key: obj.key, from: pt, start: obj.box, box: obj.box };
      } else {
        p.onSelect(null);
        g = { kind: "draw", from: pt, box: { x: pt[0], y: pt[1], w: 0, h: 0 } };
      }
    } else if (p.tool === "brush" || p.tool === "eraser") {
      const value = p.tool === "brush" ? 255 : 0;
      const base = selected?.mask?.bitmap;
      if (selected?.mask && !base) return; // its stored mask is still loading
      if (!selected && value === 0) return; // nothing to erase from
      const bitmap = base ? cloneMask(base) : emptyMask(p.width, p.height);
      strokeMask(bitmap, pt, pt, p.brushSize, value);
      g = { kind: "stroke", key: selected?.key ?? null, last: pt, bitmap, value };
    } else if (p.tool === "polygon") {
      const first = p.polygon[0];
      if (first && p.polygon.length >= 3 && Math.hypot(first[0] - pt[0], first[1] - pt[1]) <= CLOSE_PX * scale) {
        p.onClosePolygon();
      } else {
        p.onPolygon([...p.polygon, pt]);
      }
      return;
    }
    if (g) {
      e.currentTarget.setPointerCapture(e.pointerId);
      setGesture(g);
    }
  };

  const onPointerMove = (e: ReactPointerEvent<SVGSVGElement>) => {
    const pt = toImage(e);
    setCursor(pt);
    if (!gesture) return;
    if (gesture.kind === "draw") setGesture({ ...gesture, box: boxFrom(gesture.from, pt) });
    else if (gesture.kind === "resize") setGesture({ ...gesture, box: boxFrom(gesture.anchor, pt) });
    else if (gesture.kind === "move") {
      const { start } = gesture;
      const x = clamp(start.x + pt[0] - gesture.from[0], 0, p.width - start.w);
      const y = clamp(start.y + pt[1] - gesture.from[1], 0, p.height - start.h);
      setGesture({ ...gesture, box: { ...start, x, y } });
    } else if (gesture.kind === "stroke") {
      strokeMask(gesture.bitmap, gesture.last, pt, p.brushSize, gesture.value);
      setGesture({ ...gesture, last: pt });
    }
  };

  const onPointerUp = () => {
    const g = gesture;
    setGesture(null);
    if (!g) return;
    if (g.kind === "draw") {
      if (g.box.w >= MIN_BOX && g.box.h >= MIN_BOX) p.onAddObject({ label: p.newLabel, box: g.box });
    } else if (g.kind === "move" || g.kind === "resize") {
      const before = p.draft.objects.find((o) => o.key === g.key)?.box;
      if (g.box.w >= MIN_BOX && g.box.h >= MIN_BOX && !sameBox(before, g.box)) p.onSetBox(g.key, g.box);
    } else if (g.kind === "stroke") {
      p.onStroke(g.key, g.bitmap);
    }
  };

  const liveBox = (o: DraftObject): LabelBox | undefined =>
    gesture && (gesture.kind === "move" || gesture.kind === "resize") && gesture.key === o.key ? gesture.box : o.box;

  const hs = HANDLE_PX * scale;
  const interactive = !p.readOnly && p.tool === "box";
  return (
    <div className="lab-stage" style={{ aspectRatio: `${p.width} / ${p.height}` }}>
      <img className="lab-image" src={p.imageUrl} alt="" width={p.width} height={p.height} draggable={false} />
      <canvas ref={maskRef} className="lab-masks" width={p.width} height={p.height} />
      <svg
        ref={svgRef}
        className={`lab-overlay tool-${p.readOnly ? "none" : p.tool}`}
        viewBox={`0 0 ${p.width} ${p.height}`}
        preserveAspectRatio="none"
        role="application"
        aria-label={`Sample image, ${p.width}×${p.height} px, with ${p.draft.objects.length} labeled object(s)`}
        data-testid="label-canvas"
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={onPointerUp}
        onPointerCancel={() => setGesture(null)}
        onPointerLeave={() => setCursor(null)}
        onDoubleClick={() => p.tool === "polygon" && p.polygon.length >= 3 && p.onClosePolygon()}
      >
        {p.draft.objects.map((o) => {
          const b = liveBox(o);
          if (!b) return null;
          const color = labelColor(p.labels, o.label);
          const isSel = o.key === p.selectedKey;
          return (
            <g key={o.key} data-testid="label-box" data-label={o.label}>
              <rect
                data-key={o.key}
                x={b.x}
                y={b.y}
                width={b.w}
                height={b.h}
                fill={isSel ? `${color}33` : "transparent"}
                stroke={color}
                strokeWidth={isSel ? 3 : 2}
                vectorEffect="non-scaling-stroke"
                className={interactive ? "lab-box-body" : undefined}
                pointerEvents={interactive ? "all" : "none"}
              />
              <text
                x={b.x + 2 * scale}
                y={Math.max(12 * scale, b.y - 3 * scale)}
                fontSize={12 * scale}
                fill={color}
                stroke="#fff"
                strokeWidth={3 * scale}
                paintOrder="stroke"
                pointerEvents="none"
              >
                {o.label}
              </text>
              {isSel && interactive
                ? (["nw", "ne", "sw", "se"] as const).map((h) => {
                    const [hx, hy] = cornerOf(b, h);
                    return (
                      <rect
                        key={h}
                        data-key={o.key}
                        data-handle={h}
                        x={hx - hs / 2}
                        y={hy - hs / 2}
                        width={hs}
                        height={hs}
                        fill="#fff"
                        stroke={color}
                        strokeWidth={2}
                        vectorEffect="non-scaling-stroke"
                        className={`lab-handle lab-handle-${h}`}
                      />
                    );
                  })
                : null}
            </g>
          );
        })}
        {gesture?.kind === "draw" ? (
          <rect
            x={gesture.box.x}
            y={gesture.box.y}
            width={gesture.box.w}
            height={gesture.box.h}
            fill="none"
            stroke={labelColor(p.labels, p.newLabel)}
            strokeWidth={2}
            strokeDasharray="6 4"
            vectorEffect="non-scaling-stroke"
          />
        ) : null}
        {p.polygon.length > 0 && !p.readOnly ? (
          <g className="lab-polygon" pointerEvents="none">
            <polyline
              points={[...p.polygon, ...(cursor ? [cursor] : [])].map(([x, y]) => `${x},${y}`).join(" ")}
              fill="none"
              stroke="#fff"
              strokeWidth={2}
              strokeDasharray="5 3"
              vectorEffect="non-scaling-stroke"
            />
            {p.polygon.map(([x, y], i) => (
              <circle
                // biome-ignore lint/suspicious/noArrayIndexKey: vertices have no identity beyond their order
                key={i}
                cx={x}
                cy={y}
                r={(i === 0 ? 5 : 3) * scale}
                fill={i === 0 ? "#fff" : labelColor(p.labels, p.newLabel)}
                stroke="#000"
                strokeWidth={1}
                vectorEffect="non-scaling-stroke"
              />
            ))}
          </g>
        ) : null}
        {cursor && !p.readOnly && (p.tool === "brush" || p.tool === "eraser") ? (
          <circle
            cx={cursor[0]}
            cy={cursor[1]}
            r={p.brushSize}
            fill="none"
            stroke={p.tool === "brush" ? "#fff" : "#f33"}
            strokeWidth={1.5}
            vectorEffect="non-scaling-stroke"
            pointerEvents="none"
          />
        ) : null}
      </svg>
    </div>
  );
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

function boxFrom(a: Point, b: Point): LabelBox {
  return { x: Math.min(a[0], b[0]), y: Math.min(a[1], b[1]), w: Math.abs(a[0] - b[0]), h: Math.abs(a[1] - b[1]) };
}

function cornerOf(b: LabelBox, h: Handle): Point {
  return [h.endsWith("w") ? b.x : b.x + b.w, h.startsWith("n") ? b.y : b.y + b.h];
}

function oppositeCorner(b: LabelBox, h: Handle): Point {
  const flip: Record<Handle, Handle> = { nw: "se", ne: "sw", sw: "ne", se: "nw" };
  return cornerOf(b, flip[h]);
}

function sameBox(a: LabelBox | undefined, b: LabelBox): boolean {
  return !!a && a.x === b.x && a.y === b.y && a.w === b.w && a.h === b.h;
}
