"""What the training loop needs from a task."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

import torch
from torch import nn

from ..data import Split
from ..job import Job


@dataclass
class Batch:
    """A normalised batch and its targets in input pixels (only the task's own target is set)."""

    x: torch.Tensor
    labels: torch.Tensor | None = None
    masks: torch.Tensor | None = None
    boxes: list[torch.Tensor] | None = None


# takes sample indices of a split, returns a model-ready (not augmented) batch
Prepare = Callable[[Split, torch.Tensor], Batch]


class Task:
    """Base class: subclasses set `primary` and implement the methods below."""

    primary = ""
    output_names: tuple[str, ...] = ()

    def __init__(self, job: Job) -> None:
        self.job = job
        self.labels = job.labels

    def build(self) -> nn.Module:
        raise NotImplementedError

    def train_split(self, split: Split) -> Split:
        """The training images the task learns from (anomaly: the OK ones only)."""
        return split

    def calibrate(self, val: dict[str, Any]) -> None:
        """Sets thresholds from the final model's validation metrics (anomaly); others keep 0.5."""

    def thresholds(self) -> dict[str, Any]:
        """The manifest's `thresholds`."""
        return {"default": 0.5, "perClass": {}}

    def loss(self, out: Any, batch: Batch) -> torch.Tensor:
        raise NotImplementedError

    def evaluate(self, model: nn.Module, split: Split, prepare: Prepare, batch_size: int) -> dict[str, Any]:
        """Split metrics in the contract's TrainerSplitMetrics shape."""
        raise NotImplementedError

    def export_module(self, model: nn.Module) -> nn.Module:
        """The model plus its in-graph output activations, as exported to ONNX."""
        raise NotImplementedError

    def postprocessing(self) -> dict[str, Any]:
        """The manifest's `postprocessing` for this task's exported outputs."""
        raise NotImplementedError


def batches(n: int, size: int) -> Iterator[torch.Tensor]:
    for i in range(0, n, size):
        yield torch.arange(i, min(n, i + size))
