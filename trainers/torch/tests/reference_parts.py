"""Synthetic printed-label / PCB-like parts for reference-image inspection tests.

Each product is a fixed template: dark marks (pads, characters) on some cells of a grid. A part
is its product's template with nuisance variation (brightness ±20 %, a shift of up to ±3 px,
sensor noise); a defective part also has one mark missing or one extra mark of the same kind,
so nothing but the template tells a good part from a bad one.

`python3 reference_parts.py OUT_DIR [--seed 0] [--products 8] [--per-product 40] [--size 64]`
writes `<key>.ref.png` per product, the parts and their defect masks (`.mask.png`, 1 = defect) as
PNGs and `parts.json` (`{"references": {key: file}, "parts": [{file, mask, key, defect}]}`)."""

from __future__ import annotations

import argparse
import json
import os

import numpy as np
from PIL import Image

CELL = 8
MARK = (4, 3)  # w, h of a mark, px
MAX_SHIFT = 3


def template(rng: np.random.Generator, size: int) -> np.ndarray:
    """bool grid of occupied cells (size // CELL square), about half of them."""
    n = size // CELL
    return rng.random((n, n)) < 0.5


def render(cells: np.ndarray, size: int, shift: tuple[int, int] = (0, 0), gain: float = 1.0) -> np.ndarray:
    img = np.full((size, size), 200.0)
    dx, dy = shift
    for cy, cx in zip(*np.nonzero(cells)):
        x0 = cx * CELL + (CELL - MARK[0]) // 2 + dx
        y0 = cy * CELL + (CELL - MARK[1]) // 2 + dy
        img[max(0, y0) : max(0, y0 + MARK[1]), max(0, x0) : max(0, x0 + MARK[0])] = 50.0
    return img * gain


def part(cells: np.ndarray, defect: bool, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The part's image and its defect mask (1 where a mark is missing or extra)."""
    cells = cells.copy()
    toggled = np.zeros_like(cells)
    if defect:
        # one mark missing or one extra: toggle a cell away from the border the shift may hide
        n = cells.shape[0]
        cy, cx = rng.integers(1, n - 1, size=2)
        cells[cy, cx] = not cells[cy, cx]
        toggled[cy, cx] = True
    shift = tuple(int(v) for v in rng.integers(-MAX_SHIFT, MAX_SHIFT + 1, size=2))
    img = render(cells, size, shift, gain=float(rng.uniform(0.8, 1.2)))
    img = img + rng.normal(0, 3.0, img.shape)
    mask = (render(toggled, size, shift) < 100).astype(np.uint8)
    return np.clip(np.round(img), 0, 255).astype(np.uint8), mask


def write(out: str, seed: int, products: int, per_product: int, size: int) -> dict:
    rng = np.random.default_rng(seed)
    os.makedirs(out, exist_ok=True)
    refs: dict[str, str] = {}
    parts: list[dict] = []
    for p in range(products):
        key = f"p{p}"
        cells = template(rng, size)
        refs[key] = f"{key}.ref.png"
        Image.fromarray(np.clip(render(cells, size), 0, 255).astype(np.uint8)).save(os.path.join(out, refs[key]))
        for i in range(per_product):
            defect = i % 2 == 1
            name = f"{key}_{i:03d}.png"
            img, mask = part(cells, defect, rng, size)
            Image.fromarray(img).save(os.path.join(out, name))
            Image.fromarray(mask).save(os.path.join(out, name.replace(".png", ".mask.png")))
            parts.append({"file": name, "mask": name.replace(".png", ".mask.png"), "key": key, "defect": defect})
    index = {"references": refs, "parts": parts}
    with open(os.path.join(out, "parts.json"), "w", encoding="utf-8") as f:
        json.dump(index, f)
    return index


if __name__ == "__main__":
    a = argparse.ArgumentParser()
    a.add_argument("out")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--products", type=int, default=8)
    a.add_argument("--per-product", type=int, default=40)
    a.add_argument("--size", type=int, default=64)
    o = a.parse_args()
    write(o.out, o.seed, o.products, o.per_product, o.size)
