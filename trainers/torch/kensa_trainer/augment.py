"""Training-time augmentation of a batch. Geometry (flips, rotation, crop-and-zoom) is one affine
map per image, applied to the image, its mask and its boxes alike so that labels stay true.
All randomness comes from the run's seeded generator."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MAX_ROTATE_DEG = 10.0
MIN_CROP_SIDE = 0.85
BRIGHTNESS = 0.2
CONTRAST = 0.2
MAX_NOISE_SD = 0.02
# a box cut down to less than this share of its area by a crop is dropped, not kept as a sliver
MIN_BOX_VISIBLE = 0.4


def _u(g: torch.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=g))


def augment_batch(
    images: torch.Tensor,
    masks: torch.Tensor | None,
    boxes: list[torch.Tensor] | None,
    flags: dict[str, bool],
    g: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor | None, list[torch.Tensor] | None]:
    """images: float B×C×H×W in 0..1; masks: int64 B×H×W; boxes: per image k×5 (cls, x, y, w, h)."""
    b, _, h, w = images.shape
    mats = torch.empty((b, 2, 2), dtype=torch.float64)
    shifts = torch.empty((b, 2), dtype=torch.float64)
    for i in range(b):
        fx = -1.0 if flags["hflip"] and _u(g, 0, 1) < 0.5 else 1.0
        fy = -1.0 if flags["vflip"] and _u(g, 0, 1) < 0.5 else 1.0
        a = math.radians(_u(g, -MAX_ROTATE_DEG, MAX_ROTATE_DEG)) if flags["rotate"] else 0.0
        s = _u(g, MIN_CROP_SIDE, 1.0) if flags["crop"] else 1.0
        # output (centred px) → input (centred px): p_in = s·R(a)·F·p_out + t
        rot = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], dtype=torch.float64)
        mats[i] = s * rot @ torch.diag(torch.tensor([fx, fy], dtype=torch.float64))
        tx = _u(g, -1, 1) * (1 - s) * w / 2
        ty = _u(g, -1, 1) * (1 - s) * h / 2
        shifts[i] = torch.tensor([tx, ty])

    identity = torch.eye(2, dtype=torch.float64)
    if not all(torch.allclose(mats[i], identity) and shifts[i].abs().max() == 0 for i in range(b)):
        # grid_sample works in [-1, 1] coordinates per axis: conjugate by the half-size scaling
        half = torch.tensor([w / 2, h / 2], dtype=torch.float64)
        theta = torch.empty((b, 2, 3), dtype=torch.float64)
        theta[:, :, :2] = mats / half[None, :, None] * half[None, None, :]
        theta[:, :, 2] = shifts / half[None, :]
        grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
        # reflection keeps rotated corners looking like surface rather than black wedges
        images = F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
        if masks is not None:
            m = F.grid_sample(masks[:, None].to(images.dtype), grid, mode="nearest", padding_mode="reflection", align_corners=False)
            masks = m[:, 0].round().to(torch.int64)
        if boxes is not None:
            boxes = [_move_boxes(bx, mats[i], shifts[i], w, h) for i, bx in enumerate(boxes)]

    if flags["brightnessContrast"]:
        bright = torch.tensor([_u(g, 1 - BRIGHTNESS, 1 + BRIGHTNESS) for _ in range(b)])[:, None, None, None]
        contrast = torch.tensor([_u(g, 1 - CONTRAST, 1 + CONTRAST) for _ in range(b)])[:, None, None, None]
        mean = images.mean(dim=(1, 2, 3), keepdim=True)
        images = ((images - mean) * contrast + mean) * bright
    if flags["noise"]:
        sd = torch.tensor([_u(g, 0, MAX_NOISE_SD) for _ in range(b)])[:, None, None, None]
        images = images + torch.randn(images.shape, generator=g) * sd
    return images.clamp(0, 1), masks, boxes


def _move_boxes(bx: torch.Tensor, mat: torch.Tensor, shift: torch.Tensor, w: int, h: int) -> torch.Tensor:
    """Maps boxes from input to output pixels (inverse of the sampling map), clipped to the frame.
    A rotated box becomes the bounding box of its inscribed ellipse, rotated: the hull of its
    rotated corners would grow a long thin scratch by a fifth of its length at 10° (a loose box
    the detector then learns), the ellipse's by a few per cent; flips and zoom are exact either way."""
    if len(bx) == 0:
        return bx
    inv = torch.linalg.inv(mat)
    half = torch.tensor([w / 2, h / 2], dtype=torch.float64)
    a, b = bx[:, 3].double() / 2, bx[:, 4].double() / 2  # semi-axes
    centre = torch.stack([bx[:, 1].double() + a, bx[:, 2].double() + b], 1)
    c = (centre - half - shift) @ inv.T + half
    ext = torch.stack([torch.hypot(inv[0, 0] * a, inv[0, 1] * b), torch.hypot(inv[1, 0] * a, inv[1, 1] * b)], 1)
    lo, hi = c - ext, c + ext
    area = (hi - lo).prod(dim=1)
    lo_c = torch.stack([lo[:, 0].clamp(0, w), lo[:, 1].clamp(0, h)], 1)
    hi_c = torch.stack([hi[:, 0].clamp(0, w), hi[:, 1].clamp(0, h)], 1)
    size = hi_c - lo_c
    keep = (size.prod(dim=1) >= MIN_BOX_VISIBLE * area) & (size.min(dim=1).values >= 1)
    res = torch.cat([bx[:, :1].double(), lo_c, size], 1)[keep]
    return res.to(torch.float32)
