"""Classification: ResNetLite, cross-entropy, accuracy (primary), per-class P/R/F1, confusion."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..data import Split
from ..models import ResNetLite
from .base import Batch, Prepare, Task, batches


class Classification(Task):
    primary = "accuracy"
    output_names = ("scores",)

    def build(self) -> nn.Module:
        return ResNetLite(self.job.input_channels, len(self.labels))

    def loss(self, out: torch.Tensor, batch: Batch) -> torch.Tensor:
        assert batch.labels is not None
        return F.cross_entropy(out, batch.labels)

    @torch.no_grad()
    def evaluate(self, model: nn.Module, split: Split, prepare: Prepare, batch_size: int) -> dict[str, Any]:
        assert split.labels is not None
        k = len(self.labels)
        confusion = torch.zeros((k, k), dtype=torch.int64)
        total_loss = 0.0
        for idx in batches(len(split), batch_size):
            b = prepare(split, idx)
            out = model(b.x)
            assert b.labels is not None
            total_loss += float(F.cross_entropy(out, b.labels, reduction="sum"))
            pred = out.argmax(dim=1)
            confusion += torch.bincount(b.labels * k + pred, minlength=k * k).reshape(k, k)
        n = int(confusion.sum())
        per_class: dict[str, dict[str, float]] = {}
        f1s = []
        recalls = []
        for i, lab in enumerate(self.labels):
            tp = float(confusion[i, i])
            support = float(confusion[i].sum())
            predicted = float(confusion[:, i].sum())
            precision = tp / predicted if predicted else 0.0
            recall = tp / support if support else 0.0
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            per_class[lab] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
            if support:
                f1s.append(f1)
                recalls.append(recall)
        accuracy = float(confusion.diag().sum()) / n if n else 0.0
        return {
            "samples": n,
            "loss": total_loss / n if n else 0.0,
            "primary": accuracy,
            "values": {
                "accuracy": accuracy,
                "balancedAccuracy": sum(recalls) / len(recalls) if recalls else 0.0,
                "macroF1": sum(f1s) / len(f1s) if f1s else 0.0,
            },
            "perClass": per_class,
            "confusion": confusion.tolist(),
        }

    def export_module(self, model: nn.Module) -> nn.Module:
        return _Softmax(model)

    def postprocessing(self) -> dict[str, Any]:
        # softmax is inside the graph, so the scores are already probabilities
        return {"type": "classification", "activation": "none", "output": "scores"}


class _Softmax(nn.Module):
    def __init__(self, core: nn.Module) -> None:
        super().__init__()
        self.core = core

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.core(x), dim=1)
