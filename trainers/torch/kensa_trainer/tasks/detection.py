"""Detection, CenterNet-style and anchor-free: a class heatmap on a stride-4 grid, box size and
centre offset at each cell. Primary metric: mAP at IoU 0.5 (VOC all-point AP, averaged over the
classes that have ground truth).

Exported tensors (see ../../README.md), G = Gh·Gw cells, cell size (input.width / Gw,
input.height / Gh) px:
  predictions N×(4+K)×G  Ultralytics-YOLOv8 layout: rows cx, cy, w, h (input px) then one score
                         per class; a score is the cell's heatmap value where it is a 3×3 local
                         maximum (CenterNet's peak-NMS), else 0. The manifest says layout "yolov8".
  heatmap     N×K×Gh×Gw  probability that the cell holds the centre of a class-k object
  size        N×2×Gh×Gw  box width, height in input px
  offset      N×2×Gh×Gw  centre position inside the cell (x, y), 0..1 of a cell
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..data import Split
from ..models import CenterNetLite, out_size
from .base import Batch, Prepare, Task, batches

TOP_K = 50
MIN_SCORE = 0.01
SIZE_WEIGHT = 1.0
OFFSET_WEIGHT = 1.0


class Detection(Task):
    primary = "mAP50"
    output_names = ("predictions", "heatmap", "size", "offset")

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.gh = out_size(self.job.height, CenterNetLite.STRIDE)
        self.gw = out_size(self.job.width, CenterNetLite.STRIDE)
        self.cell = (self.job.width / self.gw, self.job.height / self.gh)

    def build(self) -> nn.Module:
        return CenterNetLite(self.job.channels, len(self.labels), self.job.height, self.job.width)

    def targets(self, boxes: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Heatmap (N×K×Gh×Gw, Gaussian bumps peaking at 1 on centre cells), log-size and offset
        targets (N×2×Gh×Gw) and the centre-cell mask (N×Gh×Gw) where they apply."""
        n, k = len(boxes), len(self.labels)
        heat = torch.zeros((n, k, self.gh, self.gw))
        size = torch.zeros((n, 2, self.gh, self.gw))
        offset = torch.zeros((n, 2, self.gh, self.gw))
        centre = torch.zeros((n, self.gh, self.gw), dtype=torch.bool)
        ys = torch.arange(self.gh, dtype=torch.float32)[:, None]
        xs = torch.arange(self.gw, dtype=torch.float32)[None, :]
        for i, bx in enumerate(boxes):
            for cls, x, y, w, h in bx.tolist():
                wg, hg = w / self.cell[0], h / self.cell[1]
                cx, cy = (x + w / 2) / self.cell[0], (y + h / 2) / self.cell[1]
                ci = min(self.gw - 1, max(0, int(cx)))
                cj = min(self.gh - 1, max(0, int(cy)))
                # Gaussian footprint about a sixth of the box (CenterNet's radius rule, simplified)
                sx, sy = max(0.5, wg / 6), max(0.5, hg / 6)
                bump = torch.exp(-((xs - ci) ** 2) / (2 * sx * sx) - ((ys - cj) ** 2) / (2 * sy * sy))
                heat[i, int(cls)] = torch.maximum(heat[i, int(cls)], bump)
                size[i, :, cj, ci] = torch.tensor([math.log(max(wg, 1e-3)), math.log(max(hg, 1e-3))])
                offset[i, :, cj, ci] = torch.tensor([cx - ci, cy - cj])
                centre[i, cj, ci] = True
        return heat, size, offset, centre

    def loss(self, out: tuple[torch.Tensor, torch.Tensor, torch.Tensor], batch: Batch) -> torch.Tensor:
        assert batch.boxes is not None
        heat_logit, size_raw, off_raw = out
        heat_t, size_t, off_t, centre = self.targets(batch.boxes)
        pos = heat_t.eq(1).float()
        p = torch.sigmoid(heat_logit).clamp(1e-4, 1 - 1e-4)
        # CenterNet focal loss (α = 2, β = 4): negatives near a centre are down-weighted
        pos_loss = -(F.logsigmoid(heat_logit) * (1 - p) ** 2 * pos).sum()
        neg_loss = -(F.logsigmoid(-heat_logit) * p**2 * (1 - heat_t) ** 4 * (1 - pos)).sum()
        num_pos = max(1.0, float(pos.sum()))
        loss = (pos_loss + neg_loss) / num_pos
        m = centre[:, None].expand_as(size_raw).float()
        if m.sum() > 0:
            loss = loss + SIZE_WEIGHT * (F.l1_loss(size_raw, size_t, reduction="none") * m).sum() / num_pos
            loss = loss + OFFSET_WEIGHT * (F.l1_loss(torch.sigmoid(off_raw), off_t, reduction="none") * m).sum() / num_pos
        return loss

    def decode(self, heat: torch.Tensor, size: torch.Tensor, offset: torch.Tensor) -> list[torch.Tensor]:
        """Exported-style tensors → per image rows (score, class, x, y, w, h) in input px, best first.
        Local maxima of a 3×3 window stand in for NMS, as in CenterNet."""
        peaks = heat * (F.max_pool2d(heat, 3, 1, 1) == heat).float()
        n, k, gh, gw = heat.shape
        flat = peaks.reshape(n, -1)
        scores, where = flat.topk(min(TOP_K, flat.shape[1]), dim=1)
        out = []
        for i in range(n):
            keep = scores[i] >= MIN_SCORE
            s, w = scores[i][keep], where[i][keep]
            cls = w // (gh * gw)
            cell = w % (gh * gw)
            cj, ci = cell // gw, cell % gw
            cx = (ci.float() + offset[i, 0, cj, ci]) * self.cell[0]
            cy = (cj.float() + offset[i, 1, cj, ci]) * self.cell[1]
            bw, bh = size[i, 0, cj, ci], size[i, 1, cj, ci]
            out.append(torch.stack([s, cls.float(), cx - bw / 2, cy - bh / 2, bw, bh], dim=1))
        return out

    @torch.no_grad()
    def evaluate(self, model: nn.Module, split: Split, prepare: Prepare, batch_size: int) -> dict[str, Any]:
        k = len(self.labels)
        preds: list[list[tuple[float, int, torch.Tensor]]] = [[] for _ in range(k)]  # score, image, box
        gts: list[list[torch.Tensor]] = []
        total_loss = 0.0
        n = 0
        for idx in batches(len(split), batch_size):
            b = prepare(split, idx)
            assert b.boxes is not None
            out = model(b.x)
            total_loss += float(self.loss(out, b)) * len(idx)
            heat, size, off = _activate(out, self.cell)
            for j, det in enumerate(self.decode(heat, size, off)):
                img = n + j
                for row in det:
                    preds[int(row[1])].append((float(row[0]), img, row[2:]))
            gts.extend(b.boxes)
            n += len(idx)
        per_class: dict[str, dict[str, float]] = {}
        aps = []
        for c, lab in enumerate(self.labels):
            truth = {i: g[g[:, 0] == c, 1:] for i, g in enumerate(gts)}
            count = sum(len(t) for t in truth.values())
            ap, recall = _average_precision(preds[c], truth, count)
            per_class[lab] = {"ap50": ap, "recall50": recall, "objects": float(count)}
            if count:
                aps.append(ap)
        m_ap = sum(aps) / len(aps) if aps else 0.0
        return {
            "samples": n,
            "loss": total_loss / n if n else 0.0,
            "primary": m_ap,
            "values": {"mAP50": m_ap},
            "perClass": per_class,
        }

    def export_module(self, model: nn.Module) -> nn.Module:
        return _Heads(model, self.cell, self.gh, self.gw)

    def postprocessing(self) -> dict[str, Any]:
        # the generic YOLOv8 decoder (score filter, class-wise NMS) reads "predictions" unchanged
        return {
            "type": "detection",
            "layout": "yolov8",
            "output": "predictions",
            "coordinates": "pixels",
            "activation": "none",
            "minScore": 0.25,
            "iou": 0.45,
            "maxDetections": 100,
        }


def _activate(out: tuple[torch.Tensor, torch.Tensor, torch.Tensor], cell: tuple[float, float]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    heat, size, off = out
    scale = torch.tensor(cell, dtype=size.dtype)[None, :, None, None]
    return torch.sigmoid(heat), torch.exp(size) * scale, torch.sigmoid(off)


class _Heads(nn.Module):
    """Raw heads → the documented tensors, decoded in the graph so that any YOLOv8 decoder (and
    Kensa's) reads them without knowing this is CenterNet."""

    def __init__(self, core: nn.Module, cell: tuple[float, float], gh: int, gw: int) -> None:
        super().__init__()
        self.core = core
        self.register_buffer("scale", torch.tensor(cell, dtype=torch.float32).reshape(1, 2, 1, 1))
        ys, xs = torch.meshgrid(torch.arange(gh, dtype=torch.float32), torch.arange(gw, dtype=torch.float32), indexing="ij")
        self.register_buffer("grid", torch.stack([xs, ys])[None])  # 1×2×Gh×Gw, cell x then y

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        heat_logit, size_raw, off_raw = self.core(x)
        heat = torch.sigmoid(heat_logit)
        size = torch.exp(size_raw) * self.scale
        off = torch.sigmoid(off_raw)
        centre = (self.grid + off) * self.scale
        peaks = heat * (F.max_pool2d(heat, 3, 1, 1) == heat).to(heat.dtype)
        predictions = torch.cat([centre, size, peaks], dim=1).flatten(2)
        return predictions, heat, size, off


def _iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of one box (x, y, w, h) against many."""
    x0 = torch.maximum(a[0], b[:, 0])
    y0 = torch.maximum(a[1], b[:, 1])
    x1 = torch.minimum(a[0] + a[2], b[:, 0] + b[:, 2])
    y1 = torch.minimum(a[1] + a[3], b[:, 1] + b[:, 3])
    inter = (x1 - x0).clamp(min=0) * (y1 - y0).clamp(min=0)
    return inter / (a[2] * a[3] + b[:, 2] * b[:, 3] - inter).clamp(min=1e-9)


def _average_precision(preds: list[tuple[float, int, torch.Tensor]], truth: dict[int, torch.Tensor], count: int) -> tuple[float, float]:
    if count == 0:
        return 0.0, 0.0
    used = {i: torch.zeros(len(t), dtype=torch.bool) for i, t in truth.items()}
    tp = []
    # ties broken by image then insertion order, so the metric is deterministic
    for score, img, box in sorted(preds, key=lambda p: -p[0]):
        t = truth.get(img)
        hit = False
        if t is not None and len(t):
            ious = _iou(box, t)
            ious[used[img]] = -1
            best = int(ious.argmax())
            if float(ious[best]) >= 0.5:
                used[img][best] = True
                hit = True
        tp.append(1.0 if hit else 0.0)
    if not tp:
        return 0.0, 0.0
    tps = torch.tensor(tp).cumsum(0)
    precision = tps / torch.arange(1, len(tp) + 1)
    recall = tps / count
    # all-point interpolation: precision made monotone from the right
    for i in range(len(precision) - 2, -1, -1):
        precision[i] = max(precision[i], precision[i + 1])
    ap = 0.0
    prev_r = 0.0
    for p, r in zip(precision.tolist(), recall.tolist()):
        ap += p * (r - prev_r)
        prev_r = r
    return ap, float(recall[-1])
