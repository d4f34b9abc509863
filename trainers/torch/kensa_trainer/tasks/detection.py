"""Detection, anchor-free on one stride-4 grid (TTFNet-style, ../models_det.py and
../detection_targets.py): a class heatmap whose local maxima are the objects, and at every cell
the distances to a box's four sides. Primary metric: mAP at IoU 0.5 (VOC all-point AP, averaged
over the classes that have ground truth).

Exported tensors (see ../../README.md), G = Gh·Gw cells, cell size (input.width / Gw,
input.height / Gh) px:
  predictions N×(4+K)×G  Ultralytics-YOLOv8 layout: rows cx, cy, w, h (input px) then one score
                         per class; a score is the cell's heatmap value where it is a 3×3 local
                         maximum (CenterNet's peak-NMS), else 0. The manifest says layout "yolov8".
  heatmap     N×K×Gh×Gw  probability that the cell holds the centre of a class-k object
  size        N×2×Gh×Gw  width, height in input px of the box the cell predicts
  offset      N×2×Gh×Gw  centre (x, y) of that box from the cell's top-left corner, in cells
                         (0..1 when it lies inside the cell)
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..data import Split
from ..detection_targets import MAX_LOG_DISTANCE, REG_WEIGHT, Grid, box_loss, build_targets, focal_heatmap_loss
from ..models import out_size
from ..models_det import PyramidDetector
from .base import Batch, Prepare, Task, batches

TOP_K = 100
MIN_SCORE = 0.01


class Detection(Task):
    primary = "mAP50"
    output_names = ("predictions", "heatmap", "size", "offset")

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.gh = out_size(self.job.height, PyramidDetector.STRIDE)
        self.gw = out_size(self.job.width, PyramidDetector.STRIDE)
        self.grid = Grid(self.gh, self.gw, self.job.width, self.job.height)

    def build(self) -> nn.Module:
        return PyramidDetector(self.job.channels, len(self.labels), self.job.height, self.job.width)

    def loss(self, out: tuple[torch.Tensor, torch.Tensor], batch: Batch) -> torch.Tensor:
        assert batch.boxes is not None
        heat_logit, log_dist = out
        heat_t, box_t, weight = build_targets(batch.boxes, len(self.labels), self.grid)
        return focal_heatmap_loss(heat_logit, heat_t) + REG_WEIGHT * box_loss(self.grid.boxes(log_dist), box_t, weight)

    def decode(self, heat: torch.Tensor, boxes: torch.Tensor) -> list[torch.Tensor]:
        """Heatmap probabilities and per-cell boxes (x0, y0, x1, y1) → per image rows (score,
        class, x, y, w, h) in input px, best first. Local maxima of a 3×3 window stand in for
        NMS, as in CenterNet."""
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
            b = boxes[i].reshape(4, -1)[:, cell]
            out.append(torch.stack([s, cls.float(), b[0], b[1], b[2] - b[0], b[3] - b[1]], dim=1))
        return out

    @torch.no_grad()
    def evaluate(self, model: nn.Module, split: Split, prepare: Prepare, batch_size: int) -> dict[str, Any]:
        k = len(self.labels)
        preds: list[list[tuple[float, int, torch.Tensor]]] = [[] for _ in range(k)]  # score, image, box
        gts: list[torch.Tensor] = []
        total_loss = 0.0
        n = 0
        for idx in batches(len(split), batch_size):
            b = prepare(split, idx)
            assert b.boxes is not None
            out = model(b.x)
            total_loss += float(self.loss(out, b)) * len(idx)
            for j, det in enumerate(self.decode(torch.sigmoid(out[0]), self.grid.boxes(out[1]))):
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
        return _Heads(model, self.grid)

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


class _Heads(nn.Module):
    """Raw heads → the documented tensors, decoded in the graph so that any YOLOv8 decoder (and
    Kensa's) reads them without knowing how the detector works."""

    def __init__(self, core: nn.Module, grid: Grid) -> None:
        super().__init__()
        self.core = core
        self.register_buffer("scale", grid.scale())
        self.register_buffer("centres", torch.stack([grid.px, grid.py])[None])  # 1×2×Gh×Gw px
        self.register_buffer("cell", torch.tensor([grid.cw, grid.ch], dtype=torch.float32).reshape(1, 2, 1, 1))
        self.register_buffer("origin", grid.cells[None])  # 1×2×Gh×Gw: column, row

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        heat_logit, log_dist = self.core(x)
        heat = torch.sigmoid(heat_logit)
        d = torch.exp(log_dist.clamp(max=MAX_LOG_DISTANCE)) * self.scale
        lt, rb = d[:, :2], d[:, 2:]
        size = lt + rb
        centre = self.centres + (rb - lt) / 2
        offset = centre / self.cell - self.origin
        peaks = heat * (F.max_pool2d(heat, 3, 1, 1) == heat).to(heat.dtype)
        predictions = torch.cat([centre, size, peaks], dim=1).flatten(2)
        return predictions, heat, size, offset


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
