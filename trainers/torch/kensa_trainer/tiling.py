"""Tiled training: small defects on frames much larger than the model input.

With `tiling` in the job, a split is not the frames resized to the input but tiles of
`tiling.width`×`tiling.height` frame px cut from the frames at their own resolution, each
resized to the input (Lanczos; masks nearest) exactly as packages/vision's tiled inference
does, and padded with grey 114 where a frame is smaller than a tile.

- **train**: tiles placed at random so that a labelled object lies whole inside
  (`OBJECT_TILES` per object), plus tiles without objects from the inference grid
  (`BACKGROUND_PER_OBJECT_TILE` per object tile, at least `MIN_BACKGROUND_TILES` per frame):
  most of a large frame is background, and a model fed the whole grid would learn mostly that;
- **val / test**: every tile of the inference grid (`tile_starts`, the same layout as
  packages/vision/src/tiling/layout.ts), so the validation metric is measured on what the
  deployed model sees.

Boxes are clipped to their tile; a box left with less than MIN_BOX_VISIBLE of its area is
dropped (as a crop augmentation drops it). Anomaly tiles are anomalous when their part of the
mask holds damage, or, without a mask, when their frame is anomalous. Everything random comes
from the job's seed."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from .augment import MIN_BOX_VISIBLE
from .data import Split, _anomalous, _open
from .errors import DataInvalid
from .job import Job, Sample

PAD = 114
OBJECT_TILES = 2
BACKGROUND_PER_OBJECT_TILE = 1
MIN_BACKGROUND_TILES = 2


@dataclass(frozen=True)
class Tiling:
    width: int
    height: int
    overlap: int

    @staticmethod
    def of(raw: dict[str, Any]) -> "Tiling":
        return Tiling(width=raw["width"], height=raw["height"], overlap=raw.get("overlap", 32))

    def manifest(self) -> dict[str, int]:
        return {"width": self.width, "height": self.height, "overlap": self.overlap}


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Tile starts along one side: the fewest tiles sharing at least `overlap` px, spread evenly,
    the last flush with the far edge (JavaScript's Math.round, as the inference side rounds)."""
    if size <= tile:
        return [0]
    n = math.ceil((size - overlap) / (tile - overlap))
    if n <= 1:
        return [0]
    step = (size - tile) / (n - 1)
    return [math.floor(i * step + 0.5) for i in range(n)]


def grid(width: int, height: int, t: Tiling) -> list[tuple[int, int]]:
    return [(x, y) for y in tile_starts(height, t.height, t.overlap) for x in tile_starts(width, t.width, t.overlap)]


def load_tiled_split(job: Job, name: str, tiling: Tiling) -> Split:
    """One split as tiles (see the module doc); ids are `<sample id>#<x>,<y>`."""
    g = torch.Generator().manual_seed(job.seed * 7919 + {"train": 1, "val": 2, "test": 3}[name])
    index = {lab: i for i, lab in enumerate(job.labels)}
    ids: list[str] = []
    images: list[np.ndarray] = []
    labels: list[int] = []
    masks: list[np.ndarray] = []
    boxes: list[torch.Tensor] = []
    for s in job.split(name):
        frame = _frame(s, job)
        h, w = frame.shape[1:]
        mask = _mask(s, job, (w, h)) if job.task == "segmentation" or (job.task == "anomaly" and s.mask_path) else None
        rows = [(index[b.label], b.x, b.y, b.w, b.h) for b in s.boxes or []] if job.task == "detection" else []
        objects = _objects(rows, mask) if job.task in ("detection", "segmentation") else []
        anomalous = _anomalous(s, job, (w, h)) if job.task == "anomaly" else False
        for x, y in _placements(w, h, tiling, objects, name == "train", g):
            ids.append(f"{s.id}#{x},{y}")
            images.append(_resize(_crop(frame, x, y, tiling, PAD), job, Image.Resampling.LANCZOS))
            tile_mask = _resize(_crop(mask[None], x, y, tiling, 0), job, Image.Resampling.NEAREST)[0] if mask is not None else None
            if job.task == "segmentation":
                assert tile_mask is not None
                masks.append(tile_mask)
            elif job.task == "detection":
                boxes.append(_tile_boxes(rows, x, y, tiling, job))
            elif job.task == "anomaly":
                labels.append(int(bool(tile_mask.max(initial=0) > 0)) if tile_mask is not None else int(anomalous))
    if not ids and name in ("train", "val"):
        raise DataInvalid(f"no {name} tiles: the {name} split has no images")
    c = job.channels
    stacked = torch.from_numpy(np.stack(images)) if images else torch.empty((0, c, job.height, job.width), dtype=torch.uint8)
    return Split(
        ids=ids,
        images=stacked,
        labels=torch.tensor(labels, dtype=torch.int64) if job.task == "anomaly" else None,
        masks=(torch.from_numpy(np.stack(masks)) if masks else torch.empty((0, job.height, job.width), dtype=torch.uint8))
        if job.task == "segmentation"
        else None,
        boxes=boxes if job.task == "detection" else None,
    )


def _frame(s: Sample, job: Job) -> np.ndarray:
    img = _open(s.path, "image", s).convert("L" if job.channels == 1 else "RGB")
    arr = np.asarray(img, dtype=np.uint8)
    return np.ascontiguousarray(arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1))


def _mask(s: Sample, job: Job, size: tuple[int, int]) -> np.ndarray:
    assert s.mask_path is not None
    m = _open(s.mask_path, "mask", s)
    if m.size != size:
        raise DataInvalid(f"sample {s.id!r}: mask is {m.size[0]}x{m.size[1]} but the image is {size[0]}x{size[1]}")
    arr = np.asarray(m.convert("L") if m.mode not in ("L", "P", "I", "I;16") else m).astype(np.int64)
    if job.task == "segmentation" and arr.max(initial=0) >= len(job.labels):
        raise DataInvalid(f"sample {s.id!r}: mask holds class index {int(arr.max())} but there are {len(job.labels)} labels")
    return (arr if job.task == "segmentation" else (arr > 0)).astype(np.uint8)


def _objects(rows: list[tuple[int, float, float, float, float]], mask: np.ndarray | None) -> list[tuple[float, float, float, float]]:
    """Boxes (x, y, w, h, frame px) of the objects tiles are placed around: the labelled boxes,
    or a mask's defect pixels grouped per 64-px cell (a long scratch gives several)."""
    if rows:
        return [(x, y, w, h) for _, x, y, w, h in rows]
    if mask is None or not mask.any():
        return []
    ys, xs = np.nonzero(mask)
    cells: dict[tuple[int, int], list[int]] = {}
    for i, key in enumerate(zip((xs // 64).tolist(), (ys // 64).tolist())):
        cells.setdefault(key, []).append(i)
    out = []
    for members in cells.values():
        cx, cy = xs[members], ys[members]
        out.append((float(cx.min()), float(cy.min()), float(cx.max() - cx.min() + 1), float(cy.max() - cy.min() + 1)))
    return out


def _placements(w: int, h: int, t: Tiling, objects: list[tuple[float, float, float, float]], train: bool, g: torch.Generator) -> list[tuple[int, int]]:
    cells = grid(w, h, t)
    if not train:
        return cells
    chosen: list[tuple[int, int]] = []
    for ox, oy, ow, oh in objects:
        for _ in range(OBJECT_TILES):
            chosen.append((_around(ox, ow, w, t.width, g), _around(oy, oh, h, t.height, g)))
    empty = [(x, y) for x, y in cells if not any(_overlaps(x, y, t, o) for o in objects)]
    want = max(MIN_BACKGROUND_TILES, BACKGROUND_PER_OBJECT_TILE * len(chosen))
    order = torch.randperm(len(empty), generator=g).tolist()
    chosen.extend(empty[i] for i in order[:want])
    return chosen


def _around(o: float, size: float, frame: int, tile: int, g: torch.Generator) -> int:
    """A tile start along one side that keeps [o, o+size) inside the tile when it fits, inside the frame."""
    if frame <= tile:
        return 0
    lo = max(0, math.ceil(o + size) - tile)
    hi = min(frame - tile, math.floor(o))
    if hi < lo:  # the object is larger than a tile: centre on it
        return int(min(frame - tile, max(0, round(o + size / 2 - tile / 2))))
    return lo + int(torch.randint(0, hi - lo + 1, (), generator=g))


def _overlaps(x: int, y: int, t: Tiling, o: tuple[float, float, float, float]) -> bool:
    return o[0] < x + t.width and o[0] + o[2] > x and o[1] < y + t.height and o[1] + o[3] > y


def _crop(a: np.ndarray, x: int, y: int, t: Tiling, pad: int) -> np.ndarray:
    """C×H×W → C×t.height×t.width at (x, y), padded past the frame."""
    out = np.full((a.shape[0], t.height, t.width), pad, dtype=a.dtype)
    part = a[:, y : y + t.height, x : x + t.width]
    out[:, : part.shape[1], : part.shape[2]] = part
    return out


def _resize(a: np.ndarray, job: Job, how: Image.Resampling) -> np.ndarray:
    if a.shape[1] == job.height and a.shape[2] == job.width:
        return a
    planes = [np.asarray(Image.fromarray(p).resize((job.width, job.height), how)) for p in a]
    return np.ascontiguousarray(np.stack(planes))


def _tile_boxes(rows: list[tuple[int, float, float, float, float]], x: int, y: int, t: Tiling, job: Job) -> torch.Tensor:
    sx, sy = job.width / t.width, job.height / t.height
    kept = []
    for cls, bx, by, bw, bh in rows:
        x0, y0 = max(bx, x), max(by, y)
        x1, y1 = min(bx + bw, x + t.width), min(by + bh, y + t.height)
        if x1 <= x0 or y1 <= y0 or (x1 - x0) * (y1 - y0) < MIN_BOX_VISIBLE * bw * bh:
            continue
        kept.append([cls, (x0 - x) * sx, (y0 - y) * sy, (x1 - x0) * sx, (y1 - y0) * sy])
    return torch.tensor(kept, dtype=torch.float32).reshape(-1, 5)
