"""Early stopping that the noise of a small validation split cannot trigger, and which weights to keep.

Measured (issue 17): on a 76-image validation split the old rule (stop after `patience` epochs
without a higher raw val metric) stopped a run while the learning rate was still high and cost
about 3 accuracy points. One image of 76 is 1.3 points, and an epoch-to-epoch wobble of two or
three images is noise, not a plateau. The rule here (docs/training.md, "When training stops"):

1. the val metric is smoothed with an EMA (alpha 0.5) before it is judged;
2. the smoothed metric improves only when it rises by more than its noise: one val sample (1/n)
   or the binomial standard error sqrt(p(1-p)/n) of the metric, shrunk by the EMA's variance
   factor sqrt(alpha/(2-alpha)), whichever is larger;
3. patience counts epochs since the last such improvement; a job that does not set
   hyper.patience gets max(8, 20 % of the epoch budget);
4. no stop before half of the epoch budget has run and the learning rate has decayed to half its
   peak (the cosine schedule's high-lr phase is where the curve is noisiest);
5. the weights kept are those of the best raw epoch, where an epoch within the raw noise of the
   best seen so far replaces it when its val loss is lower (statistically tied epochs are told
   apart by the continuous loss, not by a one-image difference).

Plain Python (no torch) so that its tests run in milliseconds."""

from __future__ import annotations

import math
from dataclasses import dataclass

#: weight of the newest epoch in the smoothed val curve
EMA_ALPHA = 0.5
#: no early stop before this share of the epoch budget has run
MIN_EPOCH_SHARE = 0.5
#: no early stop while the learning rate is above this share of its peak
MAX_LR_SHARE = 0.5
#: a job without an explicit hyper.patience waits this share of the budget (at least DEFAULT_PATIENCE)
PATIENCE_SHARE = 0.2
DEFAULT_PATIENCE = 8


@dataclass(frozen=True)
class StopRule:
    epochs: int
    #: epochs without a real improvement of the smoothed metric before stopping; 0 = never stop
    patience: int
    #: the first epoch after which a stop may happen
    min_epoch: int
    max_lr_share: float
    alpha: float
    #: validation samples the metric is measured on
    n_val: int

    def describe(self, metric: str) -> str:
        if self.patience == 0:
            return "early stopping off (patience 0)"
        return (
            f"stop when the EMA(alpha {self.alpha}) of val {metric} has not risen by more than its noise "
            f"(max of 1/n and the binomial SE on n = {self.n_val} val samples) for {self.patience} epochs, "
            f"not before epoch {self.min_epoch} of {self.epochs} nor while lr > {self.max_lr_share:.0%} of its peak"
        )


def stop_rule(epochs: int, patience: int | None, n_val: int) -> StopRule:
    """`patience` None: the job left it out and the budget decides."""
    p = max(DEFAULT_PATIENCE, math.ceil(PATIENCE_SHARE * epochs)) if patience is None else patience
    return StopRule(
        epochs=epochs,
        patience=p,
        min_epoch=max(1, math.ceil(MIN_EPOCH_SHARE * epochs)),
        max_lr_share=MAX_LR_SHARE,
        alpha=EMA_ALPHA,
        n_val=n_val,
    )


def metric_noise(p: float, n: int) -> float:
    """The noise of a metric in 0..1 measured on n samples: one sample, or its binomial SE if larger."""
    if n <= 0:
        return 0.0
    q = min(max(p, 0.0), 1.0)
    return max(1.0 / n, math.sqrt(q * (1.0 - q) / n))


@dataclass
class Verdict:
    #: this epoch's weights become the ones exported
    keep: bool
    #: training ends after this epoch
    stop: bool


class EarlyStopping:
    """Feed it every epoch's val metric (higher is better), val loss and lr share of peak."""

    def __init__(self, rule: StopRule, metric: str) -> None:
        self.rule = rule
        self.metric = metric
        self.smoothed: float | None = None
        self.ref: float | None = None  # the smoothed value at the last real improvement
        self.ref_epoch = 0
        self.since = 0
        self.best_raw = -math.inf
        self.best_loss = math.inf
        self.best_epoch = 0
        self.max_raw = -math.inf
        self.epoch = 0
        self.lr_share = 1.0
        self.stopped = False

    def update(self, epoch: int, metric: float, val_loss: float, lr_share: float) -> Verdict:
        r = self.rule
        self.epoch, self.lr_share = epoch, lr_share
        raw_noise = metric_noise(max(self.max_raw, metric), r.n_val)
        keep = (
            self.best_epoch == 0
            or metric > self.best_raw + raw_noise
            or (metric >= self.max_raw - raw_noise and val_loss < self.best_loss)
        )
        if keep:
            self.best_raw, self.best_loss, self.best_epoch = metric, val_loss, epoch
        self.max_raw = max(self.max_raw, metric)

        self.smoothed = metric if self.smoothed is None else r.alpha * metric + (1 - r.alpha) * self.smoothed
        if self.ref is None or self.smoothed > self.ref + self.smoothed_noise():
            self.ref, self.ref_epoch, self.since = self.smoothed, epoch, 0
        else:
            self.since += 1
        self.stopped = (
            r.patience > 0 and self.since >= r.patience and epoch >= r.min_epoch and lr_share <= r.max_lr_share
        )
        return Verdict(keep=keep, stop=self.stopped)

    def smoothed_noise(self) -> float:
        """The smallest rise of the smoothed metric that counts (the EMA averages noise down, not below one sample)."""
        r = self.rule
        p = self.ref if self.ref is not None else 0.5
        if r.n_val <= 0:
            return 0.0
        se = math.sqrt(min(max(p, 0.0), 1.0) * (1 - min(max(p, 0.0), 1.0)) / r.n_val)
        return max(1.0 / r.n_val, se * math.sqrt(r.alpha / (2 - r.alpha)))

    def reason(self) -> str:
        """Why training ended where it did, in words for the log and the model card."""
        r = self.rule
        m = self.metric
        kept = self.kept()
        if self.stopped:
            return (
                f"stopped early after epoch {self.epoch} of {r.epochs}: the smoothed val {m} "
                f"(EMA alpha {r.alpha}) has not risen by more than {self.smoothed_noise():.4f} "
                f"(noise on {r.n_val} val samples) above {self.ref:.4f} since epoch {self.ref_epoch}, "
                f"patience {r.patience} epochs; lr at {self.lr_share:.0%} of peak; {kept}"
            )
        if r.patience == 0:
            return f"ran all {r.epochs} epochs (early stopping off); {kept}"
        return (
            f"ran all {r.epochs} epochs: the smoothed val {m} last rose beyond its noise at epoch "
            f"{self.ref_epoch} (patience {r.patience}, no stop before epoch {r.min_epoch} or while "
            f"lr > {r.max_lr_share:.0%} of peak); {kept}"
        )

    def kept(self) -> str:
        return f"kept epoch {self.best_epoch}'s weights (val {self.metric} {self.best_raw:.4f})"


#: share of the budget left that grown epochs may fill (the rest: epochs slower than measured,
#: the test split's evaluation and the export after the last epoch)
GROW_SHARE = 0.85
#: epochs are only added during this share of the planned run
GROW_UNTIL = 0.2
#: a new plan must be at least this many times the current one
GROW_STEP = 1.1
#: never more epochs than this from a budget (the hub's MAX_BUDGET_EPOCHS)
MAX_BUDGET_EPOCHS = 200


@dataclass(frozen=True)
class TimeBudget:
    """A wall-time budget (job.budgetSec, s since the trainer started): no epoch starts that
    would not end within it (the next one is assumed to take as long as the slowest so far), and
    when the measured epochs say the planned ones will not fit, fewer are planned so that the
    learning-rate schedule still decays by the end instead of being cut off at its peak."""

    budget_sec: float

    def spent(self, elapsed: float, epoch_secs: list[float]) -> bool:
        """True when another epoch would end past the budget."""
        return elapsed + (max(epoch_secs) if epoch_secs else 0.0) > self.budget_sec

    def fit(self, epoch: int, planned: int, elapsed: float, per_epoch: float) -> int:
        """The epochs to plan after `epoch`: `planned`, or fewer (at least epoch + 1) when epochs
        of `per_epoch` s from `elapsed` would end past the budget."""
        if per_epoch <= 0:
            return planned
        left = int((self.budget_sec - elapsed) // per_epoch)
        return max(epoch + 1, min(planned, epoch + left))

    def grow(self, epoch: int, planned: int, elapsed: float, per_epoch: float, cap: int) -> int:
        """The epochs to plan after `epoch` when `planned` was only an estimate of what fits
        (job.epochsFromBudget): more, up to `cap`, when epochs of `per_epoch` s fill at most
        GROW_SHARE of the time left, and a tenth more at least — never fewer than `planned`
        (fit() shrinks). Only while the run is early in its schedule (epoch 2, or ≤ GROW_UNTIL
        of the plan): a longer cosine schedule then barely moves the learning rate, where late
        it would raise it again."""
        if per_epoch <= 0 or epoch > max(2, planned * GROW_UNTIL):
            return planned
        grown = min(cap, epoch + int(GROW_SHARE * (self.budget_sec - elapsed) // per_epoch))
        # a few epochs more is not worth another change of the schedule (nor a log line an epoch)
        return grown if grown >= max(planned + 1, planned * GROW_STEP) else planned

    def reason(self, epoch: int, epochs: int, elapsed: float, epoch_secs: list[float], kept: str) -> str:
        nxt = max(epoch_secs) if epoch_secs else 0.0
        return (
            f"stopped by the time budget after epoch {epoch} of {epochs}: {elapsed:.0f} s of the "
            f"{self.budget_sec:.0f} s budget spent and an epoch takes about {nxt:.0f} s; {kept}"
        )
