"""The time left in a run, from what the last epochs actually took.

The old estimate divided the time since training began by the steps done: on a shared machine
(load 8 on 2 cores) a slow start or a burst of other work kept skewing it for the rest of the
run, and it ignored validation until it had happened. Here an epoch's time is its wall time
including validation, and the estimate uses the median of the last few epochs: one slow epoch
(another job's burst) moves it little, a lasting change of load moves it within a few epochs.
Plain Python (no torch) so that its tests run in milliseconds."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

#: epochs whose median is the per-epoch estimate
WINDOW = 5


class Eta:
    def __init__(self, epochs: int, steps_per_epoch: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.epochs = epochs
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.clock = clock
        self.durations: list[float] = []
        self.epoch_start = clock()

    def epoch_started(self) -> None:
        self.epoch_start = self.clock()

    def epoch_done(self) -> None:
        """Call after the epoch's validation: its wall time, validation included, joins the window."""
        now = self.clock()
        self.durations.append(now - self.epoch_start)
        self.epoch_start = now

    def per_epoch(self) -> float | None:
        """s per epoch (training + validation): the median of the last WINDOW epochs, None before the first."""
        if not self.durations:
            return None
        return statistics.median(self.durations[-WINDOW:])

    def seconds_left(self, epoch: int, steps_in_epoch: int) -> float | None:
        """s to the end of the epoch budget (an upper bound: early stopping may end sooner).

        `epoch` is 1-based and `steps_in_epoch` the steps of it done so far (steps_per_epoch once
        its validation finished). During the first epoch only its own step rate is known."""
        left_epochs = self.epochs - epoch
        per = self.per_epoch()
        if per is None:
            if steps_in_epoch <= 0:
                return None
            # no validation measured yet: the first epoch's step rate, for every step left
            rate = (self.clock() - self.epoch_start) / steps_in_epoch
            return round(rate * ((self.steps_per_epoch - steps_in_epoch) + left_epochs * self.steps_per_epoch), 1)
        done = min(1.0, steps_in_epoch / self.steps_per_epoch)
        return round(per * (1.0 - done + left_epochs), 1)
