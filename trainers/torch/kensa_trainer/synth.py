"""Synthesized defects on good parts, for anomaly training from OK images only.

Each image of a batch gets, with probability `P_ANOMALY`, one of three kinds of damage, and a
mask of exactly where it went:

- **blob** — a smooth random shape (low-frequency noise, thresholded, inside a random ellipse)
  whose pixels are darkened, brightened or replaced by another texture (a shifted piece of
  another image of the batch, or noise), blended at a random strength: pits, stains, blowholes,
  missing coating (in the spirit of DRAEM's Perlin-noise anomalies, without external textures);
- **scratch** — a thin polyline, darker or brighter than the surface: cracks, scratches, fray;
- **patch** — a piece of the same image cut and pasted elsewhere with its brightness changed
  (CutPaste): local structure that is out of place.

Sizes span a small pit to a fifth of the frame. The network learns "what does not belong on
this surface" rather than any one real defect, which is what lets it flag defects nobody
labelled. Everything runs on the batch in torch with the run's seeded generator."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

P_ANOMALY = 0.5
# a blob's ellipse radius as a share of the shorter image side
BLOB_RADIUS = (0.03, 0.2)
# a patch's side as a share of the shorter image side
PATCH_SIDE = (0.06, 0.25)
# scratch width in px and number of segments
SCRATCH_WIDTH = (1.0, 3.5)
SCRATCH_SEGMENTS = (1, 4)
# mask pixels below this blend strength are not counted as damage (invisible changes)
MIN_VISIBLE = 0.15


def _u(g: torch.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=g))


def synthesize(images: torch.Tensor, g: torch.Generator, p: float = P_ANOMALY) -> tuple[torch.Tensor, torch.Tensor]:
    """images: float B×C×H×W in 0..1 → (damaged images, masks float B×H×W in {0, 1})."""
    b, _, h, w = images.shape
    out = images.clone()
    masks = torch.zeros((b, h, w), dtype=images.dtype)
    for i in range(b):
        if _u(g, 0, 1) >= p:
            continue
        kind = _u(g, 0, 1)
        if kind < 0.5:
            out[i], masks[i] = _blob(images, i, g)
        elif kind < 0.8:
            out[i], masks[i] = _scratch(images[i], g)
        else:
            out[i], masks[i] = _patch(images[i], g)
    return out.clamp(0, 1), masks


def _ellipse(h: int, w: int, g: torch.Generator) -> torch.Tensor:
    side = min(h, w)
    cy, cx = _u(g, 0.1, 0.9) * h, _u(g, 0.1, 0.9) * w
    ry = _u(g, *BLOB_RADIUS) * side
    rx = ry * _u(g, 0.4, 2.5)
    a = _u(g, 0, math.pi)
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    dy, dx = yy - cy, xx - cx
    u = dx * math.cos(a) + dy * math.sin(a)
    v = -dx * math.sin(a) + dy * math.cos(a)
    return (u / rx) ** 2 + (v / ry) ** 2 <= 1.0


def _smooth_noise(h: int, w: int, g: torch.Generator) -> torch.Tensor:
    cells = int(2 ** round(_u(g, 2, 4)))
    coarse = torch.rand((1, 1, cells, cells), generator=g)
    return F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False)[0, 0]


def _blob(images: torch.Tensor, i: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    img = images[i]
    c, h, w = img.shape
    region = _ellipse(h, w, g) & (_smooth_noise(h, w, g) > _u(g, 0.3, 0.6))
    if not region.any():
        region = _ellipse(h, w, g)
    strength = _u(g, 0.5, 1.0)
    kind = _u(g, 0, 1)
    if kind < 0.6:
        # darker or brighter: most surface defects are
        shift = _u(g, 0.15, 0.5) * (-1 if _u(g, 0, 1) < 0.65 else 1)
        target = img + shift
    elif kind < 0.85 and images.shape[0] > 1:
        j = (i + 1 + int(_u(g, 0, images.shape[0] - 1))) % images.shape[0]
        target = torch.roll(images[j], shifts=(int(_u(g, 0, h)), int(_u(g, 0, w))), dims=(1, 2))
        target = target * _u(g, 0.6, 1.4)
    else:
        target = torch.rand((c, h, w), generator=g) * _u(g, 0.3, 1.0) + _u(g, 0, 0.5)
    blended = img * (1 - strength) + target * strength
    m = region.to(img.dtype)
    visible = (blended - img).abs().amax(dim=0) >= MIN_VISIBLE * 0.5
    return img * (1 - m) + blended * m, (region & visible).to(img.dtype)


def _scratch(img: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    _, h, w = img.shape
    side = min(h, w)
    width = _u(g, *SCRATCH_WIDTH) * max(1.0, side / 256)
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    y, x = _u(g, 0.05, 0.95) * h, _u(g, 0.05, 0.95) * w
    heading = _u(g, 0, 2 * math.pi)
    mask = torch.zeros((h, w), dtype=torch.bool)
    for _ in range(int(_u(g, SCRATCH_SEGMENTS[0], SCRATCH_SEGMENTS[1] + 1))):
        length = _u(g, 0.05, 0.35) * side
        heading += _u(g, -0.8, 0.8)
        y2, x2 = y + length * math.sin(heading), x + length * math.cos(heading)
        mask |= _segment_distance(yy, xx, y, x, y2, x2) <= width / 2
        y, x = y2, x2
    shift = _u(g, 0.2, 0.55) * (-1 if _u(g, 0, 1) < 0.7 else 1)
    m = mask.to(img.dtype)
    return img + shift * m[None], m


def _segment_distance(yy: torch.Tensor, xx: torch.Tensor, y1: float, x1: float, y2: float, x2: float) -> torch.Tensor:
    dy, dx = y2 - y1, x2 - x1
    length2 = dy * dy + dx * dx
    if length2 == 0:
        return ((yy - y1) ** 2 + (xx - x1) ** 2).sqrt()
    t = (((yy - y1) * dy + (xx - x1) * dx) / length2).clamp(0, 1)
    return ((yy - (y1 + t * dy)) ** 2 + (xx - (x1 + t * dx)) ** 2).sqrt()


def _patch(img: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    _, h, w = img.shape
    side = min(h, w)
    ph = max(2, int(_u(g, *PATCH_SIDE) * side))
    pw = max(2, int(ph * _u(g, 0.5, 2.0)))
    pw = min(pw, w - 1)
    ph = min(ph, h - 1)
    sy, sx = int(_u(g, 0, h - ph)), int(_u(g, 0, w - pw))
    ty, tx = int(_u(g, 0, h - ph)), int(_u(g, 0, w - pw))
    piece = img[:, sy : sy + ph, sx : sx + pw]
    if _u(g, 0, 1) < 0.5:
        piece = piece.flip(2)
    piece = piece * _u(g, 0.55, 1.45) + _u(g, -0.12, 0.12)
    out = img.clone()
    out[:, ty : ty + ph, tx : tx + pw] = piece
    mask = torch.zeros((h, w), dtype=img.dtype)
    # only where the pasted piece differs visibly from what it covers
    changed = (out - img).abs().amax(dim=0) >= MIN_VISIBLE * 0.5
    mask[ty : ty + ph, tx : tx + pw] = 1
    return out, mask * changed.to(img.dtype)
