"""The early-stopping rule (kensa_trainer/stopping.py) on val curves written out by hand.

Stdlib only: `python3 -m unittest discover -s tests` from trainers/torch, no torch needed."""

import math
import unittest

from kensa_trainer.stopping import EarlyStopping, metric_noise, stop_rule


def cosine_share(epoch: int, epochs: int) -> float:
    """lr / peak at the end of `epoch`: the trainer's cosine decay to 5 % (warm-up ignored)."""
    t = epoch / epochs
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t))


def run(curve: list[float], epochs: int, n_val: int, patience: int | None = None, losses: list[float] | None = None):
    s = EarlyStopping(stop_rule(epochs, patience, n_val), "accuracy")
    for e, m in enumerate(curve, start=1):
        v = s.update(e, m, losses[e - 1] if losses else 1.0 / e, cosine_share(e, epochs))
        if v.stop:
            break
    return s


def old_rule(curve: list[float], patience: int) -> int:
    """The epoch the rule before issue 17 stopped at: `patience` epochs without a higher raw value."""
    best, since = -1.0, 0
    for e, m in enumerate(curve, start=1):
        best, since = (m, 0) if m > best else (best, since + 1)
        if since >= patience:
            return e
    return len(curve)


class StopRuleTest(unittest.TestCase):
    def test_noise_is_one_sample_or_the_binomial_se(self):
        self.assertAlmostEqual(metric_noise(0.9, 76), math.sqrt(0.9 * 0.1 / 76))
        self.assertAlmostEqual(metric_noise(1.0, 76), 1 / 76)
        self.assertAlmostEqual(metric_noise(0.99, 10_000), math.sqrt(0.99 * 0.01 / 10_000))

    def test_patience_scales_with_the_budget_unless_the_job_sets_it(self):
        self.assertEqual(stop_rule(30, None, 76).patience, 8)
        self.assertEqual(stop_rule(100, None, 76).patience, 20)
        self.assertEqual(stop_rule(100, 3, 76).patience, 3)
        self.assertEqual(stop_rule(30, None, 76).min_epoch, 15)

    def test_a_noisy_plateau_on_76_images_does_not_stop_while_the_lr_is_high(self):
        # the case: 76 val images, a curve that wobbles by one to three images around
        # 0.92 after a lucky 0.934 at epoch 3; the old rule (stop after `patience` epochs
        # without a higher raw value) stopped at epoch 11 with the lr at 72 % of its peak
        wobble = [0.80, 0.88, 0.934] + [0.908, 0.921, 0.895, 0.921] * 7
        self.assertEqual(old_rule(wobble, 8), 11)
        self.assertGreater(cosine_share(11, 30), 0.7)
        s = run(wobble[:30], epochs=30, n_val=76, patience=8)
        self.assertTrue(s.stopped)
        self.assertGreaterEqual(s.epoch, 16)
        self.assertLessEqual(cosine_share(s.epoch, 30), 0.5)
        self.assertIn("lr at", s.reason())

    def test_a_real_plateau_late_in_the_schedule_stops_and_says_why(self):
        curve = [0.5 + 0.03 * e for e in range(1, 14)] + [0.89, 0.895, 0.89] * 10
        s = run(curve, epochs=40, n_val=400, patience=8)
        self.assertTrue(s.stopped)
        self.assertLess(s.epoch, 40)
        self.assertGreaterEqual(s.epoch, 20)
        self.assertIn("stopped early after epoch", s.reason())
        self.assertIn("400 val samples", s.reason())
        self.assertIn("patience 8", s.reason())

    def test_a_rise_within_noise_does_not_reset_patience_but_one_beyond_does(self):
        rule = stop_rule(10, 2, 100)
        s = EarlyStopping(rule, "accuracy")
        s.update(1, 0.80, 1.0, 0.1)
        s.update(2, 0.805, 1.0, 0.1)  # smoothed +0.0025: inside one sample (0.01)
        self.assertEqual(s.since, 1)
        s.update(3, 0.95, 1.0, 0.1)  # smoothed 0.877: far beyond
        self.assertEqual(s.since, 0)

    def test_keeps_the_best_raw_epoch_and_breaks_noise_ties_by_val_loss(self):
        rule = stop_rule(10, 0, 76)
        s = EarlyStopping(rule, "accuracy")
        self.assertTrue(s.update(1, 0.80, 0.60, 1.0).keep)
        self.assertTrue(s.update(2, 0.934, 0.40, 1.0).keep)
        # one image worse but a clearly lower loss: statistically tied, the lower loss wins
        self.assertTrue(s.update(3, 0.921, 0.30, 1.0).keep)
        # one image better, higher loss: not beyond noise, keeps epoch 3
        self.assertFalse(s.update(4, 0.934, 0.35, 1.0).keep)
        # far worse with a low loss: never kept (it is not within noise of the best seen)
        self.assertFalse(s.update(5, 0.70, 0.10, 1.0).keep)
        self.assertEqual(s.best_epoch, 3)
        self.assertIn("early stopping off", s.reason())
        self.assertFalse(s.stopped)


if __name__ == "__main__":
    unittest.main()
