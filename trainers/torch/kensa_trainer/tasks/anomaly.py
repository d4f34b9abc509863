"""Anomaly detection from good parts: a U-Net learns a per-pixel anomaly map from OK images with
synthesized defects (synth.py); real defects are never needed for training.

- Training uses only the training split's OK images (an image is anomalous when it has a class
  outside okLabels, a box, or a non-background mask pixel); each batch gets fresh damage.
- The exported graph outputs the anomaly map (sigmoid, smoothed by a 5×5 mean so that one hot
  pixel does not make a frame anomalous); the image score is its maximum (manifest
  `postprocessing: anomaly`, `scoreReduce: max`), pixels above the map threshold form regions.
- Validation: image AUROC on the real labels of the validation split when it holds both OK and
  anomalous images (primary `auroc`); otherwise AUROC of clean against synthetically damaged
  validation images (the same damage every epoch), said in the values as `syntheticAuroc`.
- The image threshold is **calibrated on the validation split** after training: with real
  anomalous images, the score that maximises balanced accuracy (Youden's J); with OK images
  only, the 99th percentile of their scores (about 1 % false alarms on good parts)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..data import Split
from ..models import UNetLite
from ..synth import synthesize
from .base import Batch, Prepare, Task, batches

SMOOTH = 5
FOCAL_GAMMA = 2.0
# the fixed seed of the validation split's synthetic damage (the same each epoch)
VAL_SEED = 1234


class Anomaly(Task):
    primary = "auroc"
    output_names = ("map",)

    def __init__(self, job: Any) -> None:
        super().__init__(job)
        self.threshold = 0.5
        self.threshold_reason = "default"

    def build(self) -> nn.Module:
        model = UNetLite(self.job.channels, 1, self.job.height, self.job.width)
        # one channel, the anomaly logit: start from "normal almost everywhere" (p ≈ 0.03); the
        # U-Net's own start (its channel 0 is background) would mean "anomalous everywhere" here
        with torch.no_grad():
            model.head.bias.fill_(-3.5)
        return model

    def train_split(self, split: Split) -> Split:
        """Only the OK images: the damage is synthesized."""
        assert split.labels is not None
        keep = (split.labels == 0).nonzero().flatten()
        if len(keep) == 0:
            from ..errors import DataInvalid

            raise DataInvalid("an anomaly model trains on OK images, and the training split has none")
        return _subset(split, keep)

    def synthesize(self, x: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return synthesize(x, g)

    def loss(self, out: torch.Tensor, batch: Batch) -> torch.Tensor:
        assert batch.masks is not None
        logits = out[:, 0]
        target = batch.masks.to(logits.dtype)
        bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        p = torch.sigmoid(logits)
        pt = p * target + (1 - p) * (1 - target)
        focal = ((1 - pt) ** FOCAL_GAMMA * bce).mean()
        inter = (p * target).sum()
        dice = (2 * inter + 1) / (p.sum() + target.sum() + 1)
        return focal * 10 + (1 - dice)

    @torch.no_grad()
    def scores(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return _smoothed(model(x)).flatten(1).amax(dim=1)

    @torch.no_grad()
    def evaluate(self, model: nn.Module, split: Split, prepare: Prepare, batch_size: int) -> dict[str, Any]:
        assert split.labels is not None
        real: list[float] = []
        synth_clean: list[float] = []
        synth_damaged: list[float] = []
        total_loss = 0.0
        g = torch.Generator().manual_seed(VAL_SEED)
        for idx in batches(len(split), batch_size):
            b = prepare(split, idx)
            real.extend(self.scores(model, b.x).tolist())
            ok = (split.labels[idx] == 0).nonzero().flatten()
            if len(ok):
                clean = b.x[ok]
                damaged, masks = self._damage_normalised(clean, prepare, g)
                out = model(damaged)
                total_loss += float(self.loss(out, Batch(x=damaged, masks=masks))) * len(ok)
                synth_clean.extend(self.scores(model, clean).tolist())
                has = masks.flatten(1).amax(dim=1) > 0
                synth_damaged.extend(_smoothed(out).flatten(1).amax(dim=1)[has].tolist())
        truth = split.labels.tolist()
        values: dict[str, float] = {}
        real_auc = auroc(real, truth)
        synth_auc = auroc(synth_clean + synth_damaged, [0] * len(synth_clean) + [1] * len(synth_damaged))
        if synth_auc is not None:
            values["syntheticAuroc"] = synth_auc
        if real_auc is not None:
            values["auroc"] = real_auc
        primary = real_auc if real_auc is not None else (synth_auc or 0.0)
        n_ok = sum(1 for t in truth if t == 0)
        return {
            "samples": len(split),
            "loss": total_loss / n_ok if n_ok else 0.0,
            "primary": primary,
            "values": values,
            "perClass": {},
            "scores": real,
            "truth": truth,
        }

    def _damage_normalised(
        self, x: torch.Tensor, prepare: Prepare, g: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        mean, std = prepare.mean, prepare.std  # type: ignore[attr-defined]
        raw = (x * std + mean).clamp(0, 1)
        damaged, masks = synthesize(raw, g, p=1.0)
        return (damaged - mean) / std, masks

    def calibrate(self, val: dict[str, Any]) -> None:
        """Sets the image threshold from the validation split's scores (see the module doc)."""
        scores: list[float] = val.get("scores", [])
        truth: list[int] = val.get("truth", [])
        ok = sorted(s for s, t in zip(scores, truth) if t == 0)
        bad = [s for s, t in zip(scores, truth) if t != 0]
        if ok and bad:
            best, best_j = 0.5, -1.0
            for t in sorted(set(scores)):
                tpr = sum(1 for s in bad if s >= t) / len(bad)
                fpr = sum(1 for s in ok if s >= t) / len(ok)
                if tpr - fpr > best_j:
                    best, best_j = t, tpr - fpr
            self.threshold = float(best)
            self.threshold_reason = f"balanced accuracy on {len(ok)} OK and {len(bad)} anomalous validation images"
        elif ok:
            k = min(len(ok) - 1, int(round(0.99 * (len(ok) - 1))))
            self.threshold = float(min(1.0, ok[k] + 1e-4))
            self.threshold_reason = f"99th percentile of {len(ok)} OK validation images' scores"
        self.threshold = min(max(self.threshold, 1e-4), 0.9999)

    def thresholds(self) -> dict[str, Any]:
        return {"default": round(self.threshold, 6), "perClass": {}}

    def export_module(self, model: nn.Module) -> nn.Module:
        return _Map(model)

    def postprocessing(self) -> dict[str, Any]:
        return {"type": "anomaly", "output": "map", "activation": "none", "scoreReduce": "max"}


def _smoothed(logits: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(torch.sigmoid(logits), SMOOTH, stride=1, padding=SMOOTH // 2, count_include_pad=False)


class _Map(nn.Module):
    def __init__(self, core: nn.Module) -> None:
        super().__init__()
        self.core = core

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _smoothed(self.core(x))


def _subset(split: Split, idx: torch.Tensor) -> Split:
    return Split(
        ids=[split.ids[int(i)] for i in idx],
        images=split.images[idx],
        labels=split.labels[idx] if split.labels is not None else None,
        masks=split.masks[idx] if split.masks is not None else None,
        boxes=[split.boxes[int(i)] for i in idx] if split.boxes is not None else None,
    )


def auroc(scores: list[float], truth: list[int]) -> float | None:
    """Area under the ROC curve (ties count half); None unless both classes are present."""
    pos = [s for s, t in zip(scores, truth) if t]
    neg = [s for s, t in zip(scores, truth) if not t]
    if not pos or not neg:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    rank_sum = sum(r for r, t in zip(ranks, truth) if t)
    return (rank_sum - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))
