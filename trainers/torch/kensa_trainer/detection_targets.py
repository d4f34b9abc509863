"""Targets and losses of the built-in detector (TTFNet-style, anchor-free, one stride-4 grid).

- **Heatmap**: per class, an elliptical Gaussian on each box's centre cell (peak exactly 1),
  its spread a share (HEAT_ALPHA) of the box's width and height over 6, as in CenterNet/TTFNet;
  trained with CenterNet's focal loss (α 2, β 4).
- **Boxes**: every cell near a box's centre — those inside the box shrunk to REG_BETA of its
  sides — regresses the distances from its own centre to the box's four sides, scored by GIoU.
  Each cell is weighted by a Gaussian of the same shrunk box, normalised so that a box's cells
  add up to log(its area): many cells per box train the regression (CenterNet trained one), and
  large boxes, the ones mAP weighs most against annotation noise, count a little more. Where
  boxes overlap the smaller one wins (drawn last).

All boxes here are (x0, y0, x1, y1) in input px unless a name says otherwise."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

HEAT_ALPHA = 0.54
REG_BETA = 0.54
#: a Gaussian never narrower than this many cells: a thin scratch still gets a bump
MIN_SIGMA = 0.4
REG_WEIGHT = 5.0
#: log-distances are clamped before exp: e^6 cells is beyond any input the recipes choose
MAX_LOG_DISTANCE = 6.0


class Grid:
    """The stride-4 grid of an input size: cell size in px and cell centres."""

    def __init__(self, gh: int, gw: int, width: int, height: int) -> None:
        self.gh, self.gw = gh, gw
        self.cw, self.ch = width / gw, height / gh
        ys, xs = torch.meshgrid(torch.arange(gh, dtype=torch.float32), torch.arange(gw, dtype=torch.float32), indexing="ij")
        self.px = (xs + 0.5) * self.cw  # Gh×Gw, px
        self.py = (ys + 0.5) * self.ch
        self.cells = torch.stack([xs, ys])  # 2×Gh×Gw: column, row

    def scale(self) -> torch.Tensor:
        """1×4×1×1 px per cell for (left, top, right, bottom)."""
        return torch.tensor([self.cw, self.ch, self.cw, self.ch], dtype=torch.float32).reshape(1, 4, 1, 1)

    def boxes(self, log_dist: torch.Tensor) -> torch.Tensor:
        """Raw head N×4×Gh×Gw (log distances in cells) → boxes N×4×Gh×Gw (x0, y0, x1, y1 px)."""
        d = torch.exp(log_dist.clamp(max=MAX_LOG_DISTANCE)) * self.scale()
        return torch.stack([self.px - d[:, 0], self.py - d[:, 1], self.px + d[:, 2], self.py + d[:, 3]], dim=1)


def build_targets(boxes: list[torch.Tensor], k: int, grid: Grid) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """boxes: per image k×5 (class, x, y, w, h px) → heatmap N×K×Gh×Gw, box targets N×4×Gh×Gw
    (x0, y0, x1, y1 px) and regression weights N×Gh×Gw (0 where a cell regresses nothing)."""
    n, gh, gw = len(boxes), grid.gh, grid.gw
    heat = torch.zeros((n, k, gh, gw))
    target = torch.zeros((n, 4, gh, gw))
    weight = torch.zeros((n, gh, gw))
    xs, ys = grid.cells[0], grid.cells[1]
    for i, bx in enumerate(boxes):
        if len(bx) == 0:
            continue
        # large first: a smaller box drawn later owns the cells they share
        for cls, x, y, w, h in sorted(bx.tolist(), key=lambda r: -r[3] * r[4]):
            cx, cy = (x + w / 2) / grid.cw, (y + h / 2) / grid.ch
            ci = min(gw - 1, max(0, int(cx)))
            cj = min(gh - 1, max(0, int(cy)))
            wg, hg = w / grid.cw, h / grid.ch
            dx2, dy2 = (xs - ci) ** 2, (ys - cj) ** 2
            sx, sy = max(MIN_SIGMA, HEAT_ALPHA * wg / 6), max(MIN_SIGMA, HEAT_ALPHA * hg / 6)
            bump = torch.exp(-dx2 / (2 * sx * sx) - dy2 / (2 * sy * sy))
            heat[i, int(cls)] = torch.maximum(heat[i, int(cls)], bump)
            rx, ry = max(MIN_SIGMA, REG_BETA * wg / 6), max(MIN_SIGMA, REG_BETA * hg / 6)
            g = torch.exp(-dx2 / (2 * rx * rx) - dy2 / (2 * ry * ry))
            inside = ((xs + 0.5 - cx).abs() <= REG_BETA * wg / 2) & ((ys + 0.5 - cy).abs() <= REG_BETA * hg / 2)
            inside[cj, ci] = True
            g = g * inside
            weight[i][inside] = (g / g.sum() * math.log(max(w * h, 2.0)))[inside]
            for row, v in enumerate((x, y, x + w, y + h)):
                target[i, row][inside] = v
    return heat, target, weight


def focal_heatmap_loss(logit: torch.Tensor, heat: torch.Tensor) -> torch.Tensor:
    """CenterNet's focal loss (α 2, β 4), over the number of object centres."""
    pos = heat.eq(1).float()
    p = torch.sigmoid(logit).clamp(1e-4, 1 - 1e-4)
    pos_loss = -(F.logsigmoid(logit) * (1 - p) ** 2 * pos).sum()
    neg_loss = -(F.logsigmoid(-logit) * p**2 * (1 - heat) ** 4 * (1 - pos)).sum()
    return (pos_loss + neg_loss) / max(1.0, float(pos.sum()))


def giou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Generalized IoU of paired boxes M×4 (x0, y0, x1, y1): 1 identical, → −1 far apart."""
    area_a = (a[:, 2] - a[:, 0]).clamp(min=0) * (a[:, 3] - a[:, 1]).clamp(min=0)
    area_b = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    iw = (torch.minimum(a[:, 2], b[:, 2]) - torch.maximum(a[:, 0], b[:, 0])).clamp(min=0)
    ih = (torch.minimum(a[:, 3], b[:, 3]) - torch.maximum(a[:, 1], b[:, 1])).clamp(min=0)
    inter = iw * ih
    union = (area_a + area_b - inter).clamp(min=1e-6)
    hull = ((torch.maximum(a[:, 2], b[:, 2]) - torch.minimum(a[:, 0], b[:, 0])) *
            (torch.maximum(a[:, 3], b[:, 3]) - torch.minimum(a[:, 1], b[:, 1]))).clamp(min=1e-6)
    return inter / union - (hull - union) / hull


def box_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted mean of 1 − GIoU over the cells that regress (pred, target N×4×Gh×Gw px)."""
    m = weight > 0
    if not bool(m.any()):
        return pred.sum() * 0.0
    p = pred.permute(0, 2, 3, 1)[m]
    t = target.permute(0, 2, 3, 1)[m]
    w = weight[m]
    return (w * (1 - giou(p, t))).sum() / (w.sum() + 1e-4)
