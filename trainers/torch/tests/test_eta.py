"""The ETA (kensa_trainer/eta.py) against a fake clock. Stdlib only."""

import unittest

from kensa_trainer.eta import Eta


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def epoch(eta: Eta, clock: Clock, seconds: float) -> None:
    eta.epoch_started()
    clock.t += seconds
    eta.epoch_done()


class EtaTest(unittest.TestCase):
    def test_first_epoch_uses_its_own_step_rate(self):
        c = Clock()
        eta = Eta(10, 4, clock=c)
        eta.epoch_started()
        self.assertIsNone(eta.seconds_left(1, 0))
        c.t += 2.0  # 2 steps in 2 s: 2 left in this epoch + 9 epochs × 4 steps
        self.assertEqual(eta.seconds_left(1, 2), 38.0)

    def test_a_slow_first_epoch_does_not_skew_the_rest(self):
        c = Clock()
        eta = Eta(10, 4, clock=c)
        epoch(eta, c, 100.0)  # warm-up, or another job's burst
        epoch(eta, c, 10.0)
        epoch(eta, c, 10.0)
        # median(100, 10, 10) = 10 s an epoch, 7 left; the old mean would say 40 s each
        self.assertEqual(eta.seconds_left(3, 4), 70.0)

    def test_validation_time_counts_and_a_lasting_slowdown_shows_within_a_few_epochs(self):
        c = Clock()
        eta = Eta(20, 4, clock=c)
        for _ in range(5):
            epoch(eta, c, 10.0)  # 8 s of steps + 2 s of validation, measured as one
        self.assertEqual(eta.seconds_left(5, 4), 150.0)
        for _ in range(3):
            epoch(eta, c, 30.0)  # the machine got busy and stays busy
        # window of the last 5: 10, 10, 30, 30, 30 → 30 s an epoch, 12 left
        self.assertEqual(eta.seconds_left(8, 4), 360.0)
        # half-way through epoch 9: half of it and 11 more
        self.assertEqual(eta.seconds_left(9, 2), 345.0)


if __name__ == "__main__":
    unittest.main()
