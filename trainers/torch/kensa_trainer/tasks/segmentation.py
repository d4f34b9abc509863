"""Segmentation: UNetLite, cross-entropy + soft Dice, mean IoU over foreground classes (primary).

Defects cover a few per cent of a frame at most; cross-entropy alone settles on "all background"
for many epochs, so a Dice term over the foreground classes pulls recall up from the start."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..data import Split
from ..models import UNetLite
from .base import Batch, Prepare, Task, batches


class Segmentation(Task):
    primary = "meanIoU"
    output_names = ("mask",)

    def build(self) -> nn.Module:
        return UNetLite(self.job.input_channels, len(self.labels), self.job.height, self.job.width)

    def loss(self, out: torch.Tensor, batch: Batch) -> torch.Tensor:
        assert batch.masks is not None
        ce = F.cross_entropy(out, batch.masks)
        if len(self.labels) < 2:
            return ce
        prob = torch.softmax(out, dim=1)[:, 1:]
        onehot = F.one_hot(batch.masks, len(self.labels)).permute(0, 3, 1, 2)[:, 1:].to(prob.dtype)
        inter = (prob * onehot).sum(dim=(0, 2, 3))
        denom = prob.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3))
        dice = (2 * inter + 1) / (denom + 1)
        return ce + (1 - dice).mean()

    @torch.no_grad()
    def evaluate(self, model: nn.Module, split: Split, prepare: Prepare, batch_size: int) -> dict[str, Any]:
        k = len(self.labels)
        inter = torch.zeros(k, dtype=torch.float64)
        union = torch.zeros(k, dtype=torch.float64)
        truth = torch.zeros(k, dtype=torch.float64)
        correct = 0.0
        pixels = 0
        total_loss = 0.0
        n = 0
        for idx in batches(len(split), batch_size):
            b = prepare(split, idx)
            assert b.masks is not None
            out = model(b.x)
            total_loss += float(self.loss(out, b)) * len(idx)
            n += len(idx)
            pred = out.argmax(dim=1)
            for c in range(k):
                p, t = pred == c, b.masks == c
                inter[c] += float((p & t).sum())
                union[c] += float((p | t).sum())
                truth[c] += float(t.sum())
            correct += float((pred == b.masks).sum())
            pixels += b.masks.numel()
        iou = torch.where(union > 0, inter / union.clamp(min=1), torch.zeros_like(union))
        per_class = {
            lab: {"iou": float(iou[c]), "pixels": float(truth[c])} for c, lab in enumerate(self.labels)
        }
        # classes absent from both truth and prediction say nothing; background is not a finding
        fg = [float(iou[c]) for c in range(1, k) if union[c] > 0]
        mean_iou = sum(fg) / len(fg) if fg else 0.0
        return {
            "samples": n,
            "loss": total_loss / n if n else 0.0,
            "primary": mean_iou,
            "values": {"meanIoU": mean_iou, "pixelAccuracy": correct / pixels if pixels else 0.0},
            "perClass": per_class,
        }

    def export_module(self, model: nn.Module) -> nn.Module:
        return _Softmax(model)

    def postprocessing(self) -> dict[str, Any]:
        # per-class probabilities N×K×H×W at input size; argmax over K gives the class map
        return {"type": "segmentation", "activation": "none", "output": "mask"}


class _Softmax(nn.Module):
    def __init__(self, core: nn.Module) -> None:
        super().__init__()
        self.core = core

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.core(x), dim=1)
