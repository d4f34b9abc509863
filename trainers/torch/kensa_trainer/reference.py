"""Reference-image inspection: the model sees the frame, the golden reference of its product
aligned to it, and their absolute difference (3 × C input channels).

Alignment is a small translation search in integer arithmetic on the images at model input
size, so that packages/vision (src/reference-input.ts) finds exactly the same shift: the cost of a
shift (dx, dy) is the sum of absolute differences between the frame's and the shifted
reference's gradient images (|∂x| + |∂y| summed over channels, which a change of brightness
leaves alone) over the interior that every shift covers; the lowest cost wins, ties go to the
smaller |dx| + |dy|, then to the smaller dy, then dx. The shifted reference repeats its edge
pixels. `maxShift` 0 declares the frames pre-aligned.

The references ride in the model's manifest (`reference.images`) as lossless PNGs at input
size, so inference decodes exactly the bytes training used."""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image

from .errors import DataInvalid

MAX_SHIFT_LIMIT = 16


@dataclass(frozen=True)
class ReferenceSpec:
    """The job's `reference`: image path per key, the key of samples that name none, the search radius."""

    images: dict[str, str]
    default_key: str
    max_shift: int


def parse_reference(c, raw, task: str, width: int, height: int) -> ReferenceSpec:
    """The job's `reference` object, checked with job.py's _Checker (every bad key path is reported)."""
    r = c.obj(raw, "/reference", {"images", "defaultKey", "maxShift"}, {"images"})
    raw_images = r.get("images", {})
    images: dict[str, str] = {}
    if not isinstance(raw_images, dict) or not raw_images:
        c.fail("/reference/images", "expected an object of at least one key → absolute image path")
    else:
        for key, path in raw_images.items():
            images[key] = c.string(path, f"/reference/images/{key}")
            if images[key] and not images[key].startswith("/"):
                c.fail(f"/reference/images/{key}", "expected an absolute path")
    default_key = c.string(r["defaultKey"], "/reference/defaultKey") if "defaultKey" in r else next(iter(sorted(images)), "")
    if images and default_key and default_key not in images:
        c.fail("/reference/defaultKey", f"{default_key!r} is not a key of /reference/images")
    limit = max(0, min(MAX_SHIFT_LIMIT, min(width, height) // 4))
    max_shift = c.integer(r.get("maxShift", min(4, limit)), "/reference/maxShift", 0, limit)
    if task not in ("classification", "segmentation"):
        c.fail("/reference", f"reference-image inspection is for classification and segmentation, not {task}")
    return ReferenceSpec(images=images, default_key=default_key, max_shift=max_shift)


def key_issues(c, spec: ReferenceSpec, keys: list[str | None]) -> None:
    """A sample that names a key the job has no reference for is a bad job, caught before any decoding."""
    for i, key in enumerate(keys):
        if key is not None and key not in spec.images:
            c.fail(f"/samples/{i}/referenceKey", f"{key!r} is not a key of /reference/images")


def gradient(img: np.ndarray) -> np.ndarray:
    """C×H×W uint8 → H×W int64: |I(x+1) − I(x)| + |I(y+1) − I(y)| summed over channels (0 at the far edges)."""
    a = img.astype(np.int64)
    g = np.zeros(a.shape[1:], dtype=np.int64)
    g[:, :-1] += np.abs(a[:, :, 1:] - a[:, :, :-1]).sum(axis=0)
    g[:-1, :] += np.abs(a[:, 1:, :] - a[:, :-1, :]).sum(axis=0)
    return g


def best_shift(frame: np.ndarray, ref: np.ndarray, max_shift: int) -> tuple[int, int]:
    """The (dx, dy) that moves `ref` onto `frame` (both C×H×W uint8 of one size)."""
    if max_shift <= 0:
        return 0, 0
    _, h, w = frame.shape
    s = max_shift
    gf = gradient(frame)[s : h - s, s : w - s]
    gr = gradient(ref)
    best: tuple[int, int, int, int] | None = None
    for dy in range(-s, s + 1):
        for dx in range(-s, s + 1):
            # aligned(y, x) = ref(y − dy, x − dx)
            window = gr[s - dy : h - s - dy, s - dx : w - s - dx]
            key = (int(np.abs(gf - window).sum()), abs(dx) + abs(dy), dy, dx)
            if best is None or key < best:
                best = key
    assert best is not None
    return best[3], best[2]


def shift_image(img: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """img moved by (dx, dy) px, edge pixels repeated: out(y, x) = img(clamp(y − dy), clamp(x − dx))."""
    _, h, w = img.shape
    ys = np.clip(np.arange(h) - dy, 0, h - 1)
    xs = np.clip(np.arange(w) - dx, 0, w - 1)
    return np.ascontiguousarray(img[:, ys][:, :, xs])


def align(frame: np.ndarray, ref: np.ndarray, max_shift: int) -> np.ndarray:
    dx, dy = best_shift(frame, ref, max_shift)
    return shift_image(ref, dx, dy) if (dx, dy) != (0, 0) else ref


def load_references(job, read: Callable[[Any], np.ndarray]) -> dict[str, np.ndarray]:
    """Every reference of the job decoded at input size by `read(sample)`, the frames' own decode and resize."""
    spec = job.reference
    # what `read` needs of a sample (job.py's Sample), without importing job.py, which imports this module
    return {
        key: read(SimpleNamespace(id=f"reference {key}", path=path, split="train", classes=[], boxes=None, mask_path=None))
        for key, path in spec.images.items()
    }


def aligned_references(job, samples: list, images: torch.Tensor, read: Callable[[Any], np.ndarray]) -> torch.Tensor:
    """uint8 N×C×H×W: each sample's reference (its key, else the default) aligned to its frame."""
    spec: ReferenceSpec = job.reference
    refs = load_references(job, read)
    out = torch.empty_like(images)
    for i, s in enumerate(samples):
        key = s.reference_key or spec.default_key
        if key not in refs:
            raise DataInvalid(f"sample {s.id!r}: no reference for key {key!r} (the job has {', '.join(sorted(refs))})")
        out[i] = torch.from_numpy(align(images[i].numpy(), refs[key], spec.max_shift))
    return out


def stack(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """x: B×2C×H×W in 0..1 (frame, aligned reference) → B×3C normalised (frame, reference, |frame − reference|)."""
    c = x.shape[1] // 2
    f = (x[:, :c] - mean) / std
    r = (x[:, c:] - mean) / std
    return torch.cat([f, r, (f - r).abs()], dim=1)


def png(img: np.ndarray) -> bytes:
    arr = img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr)).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def manifest_entry(spec: ReferenceSpec, refs: dict[str, np.ndarray]) -> dict:
    """The manifest's `reference`: how to stack, how far to search, and each key's PNG with its sha256."""
    images = []
    for key in sorted(refs):
        data = png(refs[key])
        images.append({"key": key, "sha256": hashlib.sha256(data).hexdigest(), "png": base64.b64encode(data).decode("ascii")})
    return {"stack": "frame-reference-difference", "maxShift": spec.max_shift, "defaultKey": spec.default_key, "images": images}
