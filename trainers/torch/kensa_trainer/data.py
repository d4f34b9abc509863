"""Loads a job's images, masks and boxes into memory at the model's input size.

Everything is decoded up front: a missing or corrupt file fails the job (exit 3) before any
training time is spent, and epochs then cost no decoding. Images are kept as uint8 (C×H×W).
The resize is PIL's Lanczos "stretch", the closest match to sharp's lanczos3 fill that the
inference side (packages/vision preprocess) uses; the manifest says `resize: "stretch"`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .errors import DataInvalid
from .job import Job, Sample
from .reference import aligned_references


@dataclass
class Split:
    """One split's tensors. `boxes[i]` is a float tensor (k×5: class, x, y, w, h in input px)."""

    ids: list[str]
    images: torch.Tensor  # uint8 N×C×H×W
    labels: torch.Tensor | None  # int64 N (classification)
    masks: torch.Tensor | None  # uint8 N×H×W (segmentation)
    boxes: list[torch.Tensor] | None  # detection
    #: reference-image inspection: each frame's aligned golden reference, uint8 N×C×H×W (reference.py)
    refs: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.ids)


def load_split(job: Job, name: str) -> Split:
    samples = job.split(name)
    n = len(samples)
    images = torch.empty((n, job.channels, job.height, job.width), dtype=torch.uint8)
    # anomaly: 1 for an anomalous image (a class outside okLabels, a box, or a mask with damage)
    labels = torch.empty(n, dtype=torch.int64) if job.task in ("classification", "anomaly") else None
    masks = torch.empty((n, job.height, job.width), dtype=torch.uint8) if job.task == "segmentation" else None
    boxes: list[torch.Tensor] | None = [] if job.task == "detection" else None
    index = {lab: i for i, lab in enumerate(job.labels)}
    for i, s in enumerate(samples):
        pixels, (w0, h0) = _read_image(s, job)
        images[i] = torch.from_numpy(pixels)
        if labels is not None and job.task == "anomaly":
            labels[i] = int(_anomalous(s, job, (w0, h0)))
        elif labels is not None:
            labels[i] = index[s.classes[0]]
        if masks is not None:
            masks[i] = torch.from_numpy(_read_mask(s, job, (w0, h0)))
        if boxes is not None:
            sx, sy = job.width / w0, job.height / h0
            rows = [[index[b.label], b.x * sx, b.y * sy, b.w * sx, b.h * sy] for b in s.boxes or []]
            boxes.append(torch.tensor(rows, dtype=torch.float32).reshape(-1, 5))
    refs = aligned_references(job, samples, images, lambda s: _read_image(s, job)[0]) if job.reference else None
    return Split(ids=[s.id for s in samples], images=images, labels=labels, masks=masks, boxes=boxes, refs=refs)


def _anomalous(s: Sample, job: Job, size: tuple[int, int]) -> bool:
    if any(c not in job.ok_labels for c in s.classes) or s.boxes:
        return True
    if s.mask_path is None:
        return False
    m = _open(s.mask_path, "mask", s)
    if m.size != size:
        raise DataInvalid(f"sample {s.id!r}: mask is {m.size[0]}x{m.size[1]} but the image is {size[0]}x{size[1]}")
    return bool(np.asarray(m).max(initial=0) > 0)


def _open(path: str, what: str, s: Sample) -> Image.Image:
    try:
        img = Image.open(path)
        img.load()
        return img
    except FileNotFoundError:
        raise DataInvalid(f"sample {s.id!r}: {what} not found: {path}") from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise DataInvalid(f"sample {s.id!r}: {what} cannot be decoded: {path}: {e}") from None


def _read_image(s: Sample, job: Job) -> tuple[np.ndarray, tuple[int, int]]:
    img = _open(s.path, "image", s)
    size = img.size
    # flatten alpha onto nothing, like sharp's removeAlpha(): drop the band
    img = img.convert("L" if job.channels == 1 else "RGB")
    img = img.resize((job.width, job.height), Image.Resampling.LANCZOS)
    arr = np.asarray(img, dtype=np.uint8)
    arr = arr[None, :, :] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return np.ascontiguousarray(arr), size


def _read_mask(s: Sample, job: Job, size: tuple[int, int]) -> np.ndarray:
    assert s.mask_path is not None
    m = _open(s.mask_path, "mask", s)
    if m.size != size:
        raise DataInvalid(f"sample {s.id!r}: mask is {m.size[0]}x{m.size[1]} but the image is {size[0]}x{size[1]}")
    if m.mode not in ("L", "P", "I", "I;16"):
        raise DataInvalid(f"sample {s.id!r}: mask must be a single-channel PNG (got mode {m.mode})")
    # class indices must never be blended: nearest neighbour only
    arr = np.asarray(m.resize((job.width, job.height), Image.Resampling.NEAREST)).astype(np.int64)
    if arr.max(initial=0) >= len(job.labels):
        raise DataInvalid(
            f"sample {s.id!r}: mask holds class index {int(arr.max())} but there are {len(job.labels)} labels"
        )
    return arr.astype(np.uint8)


def channel_stats(images: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and SD of the training images in 0..1, rounded so that the manifest
    holds exactly the numbers training used."""
    x = images.to(torch.float64) / 255.0
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3)).clamp(min=0.02)
    return [round(float(v), 4) for v in mean], [round(float(v), 4) for v in std]


def sample_weights(split: Split, task: str, num_classes: int) -> torch.Tensor:
    """Weights for a class-balanced sampler: each class (classification) or each of
    "has objects"/"has none" (detection, segmentation) gets an equal share of draws."""
    if task in ("classification", "anomaly"):
        assert split.labels is not None
        groups = split.labels
    elif task == "segmentation":
        assert split.masks is not None
        groups = (split.masks.flatten(1).amax(dim=1) > 0).to(torch.int64)
    else:
        assert split.boxes is not None
        groups = torch.tensor([int(len(b) > 0) for b in split.boxes], dtype=torch.int64)
    counts = torch.bincount(groups, minlength=max(num_classes, 2)).to(torch.float64)
    w = 1.0 / counts[groups]
    return w / w.sum()
