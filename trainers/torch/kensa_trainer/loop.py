"""The training loop shared by every task: AdamW with warm-up and cosine decay, a seeded
class-balanced sampler, augmentation, validation each epoch, early stopping on the task's
primary metric that a small val split's noise cannot trigger (stopping.py), the best epoch's
weights kept for export, and an ETA from measured epoch times (eta.py)."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from .augment import augment_batch
from .data import Split, sample_weights
from .errors import TrainingFailed
from .job import Job
from .eta import Eta
from .progress import Progress, clean
from .reference import stack
from .stopping import MAX_BUDGET_EPOCHS, EarlyStopping, TimeBudget, stop_rule
from .tasks import Batch, Task


# (augmented images in 0..1, generator) → (damaged images, their masks)
Synth = Callable[[torch.Tensor, torch.Generator], "tuple[torch.Tensor, torch.Tensor]"]


class Preparer:
    """Turns sample indices into a normalised batch; augments when given a generator."""

    def __init__(self, job: Job, mean: list[float], std: list[float], synth: Synth | None = None) -> None:
        self.job = job
        self.mean = torch.tensor(mean)[None, :, None, None]
        self.std = torch.tensor(std)[None, :, None, None]
        # anomaly training: damage synthesized on the augmented batch becomes its mask
        self.synth = synth

    def __call__(self, split: Split, idx: torch.Tensor, g: torch.Generator | None = None) -> Batch:
        x = split.images[idx].float() / 255.0
        if split.refs is not None:
            # the aligned reference takes the frame's geometry and photometry (reference.py)
            x = torch.cat([x, split.refs[idx].float() / 255.0], dim=1)
        masks = split.masks[idx].long() if split.masks is not None else None
        boxes = [split.boxes[int(i)] for i in idx] if split.boxes is not None else None
        if g is not None:
            x, masks, boxes = augment_batch(x, masks, boxes, self.job.hyper.augment, g)
            if self.synth is not None:
                x, masks = self.synth(x, g)
        x = stack(x, self.mean, self.std) if split.refs is not None else (x - self.mean) / self.std
        labels = split.labels[idx] if split.labels is not None else None
        return Batch(x=x, labels=labels, masks=masks, boxes=boxes)


@dataclass
class TrainResult:
    model: nn.Module
    best_epoch: int
    epochs_run: int
    stopped_early: bool
    curves: list[dict[str, Any]] = field(default_factory=list)
    #: why training ended where it did (docs/training.md, "When training stops")
    stop_reason: str = ""


def train(job: Job, task: Task, train_split: Split, val_split: Split, prep: Preparer, progress: Progress) -> TrainResult:
    hyper = job.hyper
    g = torch.Generator().manual_seed(job.seed)
    model = task.build()
    n = len(train_split)
    bs = min(hyper.batch_size, n)
    # a last batch of one image breaks BatchNorm's batch statistics: drop it
    steps_per_epoch = n // bs if n % bs == 1 else math.ceil(n / bs)
    # planned epochs: hyper.epochs, re-planned against a time budget (lr_at reads `total` when called)
    epochs = hyper.epochs
    total = steps_per_epoch * epochs
    weights = sample_weights(train_split, job.task, len(job.labels)) if hyper.balance_classes else None

    opt = torch.optim.AdamW(model.parameters(), lr=hyper.lr, weight_decay=hyper.weight_decay)
    warmup = max(1, min(steps_per_epoch, total // 20))

    def lr_at(step: int) -> float:
        if step < warmup:
            return hyper.lr * (step + 1) / warmup
        t = (step - warmup) / max(1, total - warmup)
        return hyper.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t)))

    progress.emit(
        "start",
        jobId=job.job_id,
        task=job.task,
        epochs=hyper.epochs,
        stepsPerEpoch=steps_per_epoch,
        totalSteps=total,
        samples={s: len(job.split(s)) for s in ("train", "val", "test")},
        threads=torch.get_num_threads(),
        trainer=_trainer_name(),
    )

    best_state: dict[str, torch.Tensor] | None = None
    stopping = EarlyStopping(
        stop_rule(hyper.epochs, hyper.patience if hyper.patience_set else None, len(val_split)), task.primary
    )
    progress.log(stopping.rule.describe(task.primary))
    budget = TimeBudget(job.budget_sec) if job.budget_sec is not None else None
    if budget:
        progress.log(f"time budget {budget.budget_sec:.0f} s: no epoch starts that would not end within it")
    epoch_secs: list[float] = []
    budget_reason = ""
    eta = Eta(hyper.epochs, steps_per_epoch)
    step = 0
    curves: list[dict[str, Any]] = []
    epoch = 0
    while epoch < epochs:
        epoch += 1
        eta.epoch_started()
        epoch_start = progress.elapsed()
        model.train()
        if weights is not None:
            order = torch.multinomial(weights, n, replacement=True, generator=g)
        else:
            order = torch.randperm(n, generator=g)
        losses = []
        for s in range(steps_per_epoch):
            idx = order[s * bs : (s + 1) * bs]
            batch = prep(train_split, idx, g)
            for group in opt.param_groups:
                group["lr"] = lr_at(step)
            loss = task.loss(model(batch.x), batch)
            if not torch.isfinite(loss):
                raise TrainingFailed(f"the training loss became {float(loss)} at epoch {epoch}, step {step + 1}; lower hyper.lr")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            opt.step()
            step += 1
            losses.append(float(loss))
            progress.step(
                epoch=epoch, step=step, totalSteps=total, loss=clean(float(loss)),
                etaSec=eta.seconds_left(epoch, s + 1),
            )
        model.eval()
        val = task.evaluate(model, val_split, prep, max(bs, 64))
        eta.epoch_done()
        train_loss = sum(losses) / len(losses)
        verdict = stopping.update(epoch, val["primary"], val["loss"], lr_at(step - 1) / hyper.lr)
        if verdict.keep:
            best_state = copy.deepcopy(model.state_dict())
        row = {
            "epoch": epoch,
            "trainLoss": clean(train_loss),
            "valLoss": clean(val["loss"]),
            "valMetric": clean(val["primary"]),
            "lr": lr_at(step - 1),
            "elapsedSec": round(progress.elapsed(), 3),
        }
        curves.append(row)
        progress.emit(
            "epoch", epoch=epoch, epochs=epochs, step=step, totalSteps=total,
            loss=row["trainLoss"], valLoss=row["valLoss"], valMetric=row["valMetric"], primaryMetric=task.primary,
            val={k: clean(v) for k, v in val["values"].items()}, best=verdict.keep, lr=row["lr"],
            etaSec=eta.seconds_left(epoch, steps_per_epoch),
        )
        if verdict.stop:
            break
        epoch_secs.append(progress.elapsed() - epoch_start)
        if budget and epoch < epochs and budget.spent(progress.elapsed(), epoch_secs):
            budget_reason = budget.reason(epoch, epochs, progress.elapsed(), epoch_secs, stopping.kept())
            break
        # the epochs measured say the plan will not fit: fewer epochs, the cosine schedule shortened with them
        planned = epochs
        fit = budget.fit(epoch, epochs, progress.elapsed(), eta.per_epoch() or 0.0) if budget and epoch >= 2 else epochs
        if fit < epochs:
            progress.log(f"time budget: {epochs} epochs will not fit at {eta.per_epoch():.0f} s each, planning {fit}")
            planned = fit
        elif budget and job.epochs_from_budget and epoch >= 2:
            # the hub's estimate left room (it plans for a busy machine): more epochs, the schedule lengthened with them
            grown = budget.grow(epoch, epochs, progress.elapsed(), eta.per_epoch() or 0.0, MAX_BUDGET_EPOCHS)
            if grown > epochs:
                progress.log(f"time budget: room for {grown} epochs at {eta.per_epoch():.0f} s each (planned {epochs})")
                planned = grown
        if planned != epochs:
            epochs, total = planned, steps_per_epoch * planned
            eta.epochs = epochs
            stopping.rule = stop_rule(epochs, hyper.patience if hyper.patience_set else None, len(val_split))
    reason = budget_reason or stopping.reason()
    if epochs > hyper.epochs:
        reason += f" (epochs raised from {hyper.epochs} to {epochs}: the measured epochs left room in the time budget of {job.budget_sec:.0f} s)"
    elif not budget_reason and epochs < hyper.epochs:
        reason += f" (epochs cut from {hyper.epochs} to {epochs} to fit the time budget of {job.budget_sec:.0f} s)"
    progress.log(reason)
    assert best_state is not None
    model.load_state_dict(best_state)
    model.eval()
    return TrainResult(
        model=model, best_epoch=stopping.best_epoch, epochs_run=epoch, stopped_early=stopping.stopped or bool(budget_reason),
        curves=curves, stop_reason=reason,
    )


def _trainer_name() -> str:
    from . import VERSION
    from .revision import SHORT, source_revision

    # src/<digest>: what the hub compares to decide whether the trainer's code changed
    return f"{VERSION} torch/{torch.__version__} src/{source_revision()[:SHORT]}"
