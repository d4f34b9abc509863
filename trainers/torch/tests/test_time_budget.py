"""The wall-time budget (job.budgetSec): parsed from the job, and when it ends training.

Stdlib only: `python3 -m unittest discover -s tests` from trainers/torch, no torch needed."""

import unittest

from kensa_trainer.errors import JobInvalid
from kensa_trainer.job import parse_job
from kensa_trainer.stopping import TimeBudget


def job(**extra):
    return {
        "schema": "kensa.trainer-job/v1",
        "jobId": "j",
        "task": "classification",
        "labels": ["ok", "ng"],
        "input": {"width": 32, "height": 32},
        "outputDir": "/tmp/out",
        "samples": [
            {"id": "a", "path": "/a.png", "split": "train", "classes": ["ok"]},
            {"id": "b", "path": "/b.png", "split": "train", "classes": ["ng"]},
            {"id": "c", "path": "/c.png", "split": "val", "classes": ["ok"]},
        ],
        **extra,
    }


class BudgetParseTest(unittest.TestCase):
    def test_absent_means_no_budget(self):
        self.assertIsNone(parse_job(job()).budget_sec)

    def test_budget_is_read_in_seconds(self):
        self.assertEqual(parse_job(job(budgetSec=1200)).budget_sec, 1200.0)

    def test_a_non_positive_budget_is_refused_with_its_path(self):
        with self.assertRaisesRegex(JobInvalid, "/budgetSec"):
            parse_job(job(budgetSec=0))
        with self.assertRaisesRegex(JobInvalid, "/budgetSec"):
            parse_job(job(budgetSec="20m"))

    def test_epochs_from_budget_is_read_and_means_nothing_without_a_budget(self):
        self.assertFalse(parse_job(job(budgetSec=600)).epochs_from_budget)
        self.assertTrue(parse_job(job(budgetSec=600, epochsFromBudget=True)).epochs_from_budget)
        self.assertFalse(parse_job(job(epochsFromBudget=True)).epochs_from_budget)
        with self.assertRaisesRegex(JobInvalid, "/epochsFromBudget"):
            parse_job(job(budgetSec=600, epochsFromBudget="yes"))


class TimeBudgetTest(unittest.TestCase):
    def test_an_epoch_that_would_end_past_the_budget_does_not_start(self):
        b = TimeBudget(100.0)
        self.assertFalse(b.spent(60.0, [20.0, 25.0]))  # 60 + 25 = 85 fits
        self.assertTrue(b.spent(80.0, [20.0, 25.0]))  # 80 + 25 = 105 does not
        # the slowest epoch so far is the estimate, not the last one
        self.assertTrue(b.spent(70.0, [35.0, 10.0]))

    def test_fewer_epochs_are_planned_when_the_measured_ones_will_not_fit(self):
        b = TimeBudget(100.0)
        # 20 s spent, 10 s an epoch: 8 more fit, so 2 + 8 = 10 of the 30 planned
        self.assertEqual(b.fit(2, 30, 20.0, 10.0), 10)
        # the plan fits: unchanged
        self.assertEqual(b.fit(2, 5, 20.0, 10.0), 5)
        # never fewer than one more epoch (the time-budget stop ends it when even that will not fit)
        self.assertEqual(b.fit(9, 30, 99.0, 10.0), 10)
        self.assertEqual(b.fit(3, 30, 20.0, 0.0), 30)

    def test_more_epochs_are_planned_early_when_the_estimate_left_room(self):
        b = TimeBudget(1000.0)
        # 40 s spent at 10 s an epoch: 0.85 × 960 s holds 81 more, so 2 + 81 of the 20 planned
        self.assertEqual(b.grow(2, 20, 40.0, 10.0, 200), 83)
        # capped
        self.assertEqual(b.grow(2, 20, 40.0, 1.0, 200), 200)
        # never fewer than planned (fit() is what shrinks)
        self.assertEqual(b.grow(2, 20, 900.0, 10.0, 200), 20)
        # late in the schedule the plan stays: a longer schedule would raise the learning rate again
        self.assertEqual(b.grow(5, 20, 40.0, 10.0, 200), 20)
        self.assertEqual(b.grow(4, 20, 40.0, 10.0, 200), 85)
        self.assertEqual(b.grow(2, 20, 40.0, 0.0, 200), 20)
        # less than a tenth more is not worth changing the schedule; a tenth or more is
        self.assertEqual(b.grow(2, 80, 40.0, 10.0, 200), 80)
        self.assertEqual(b.grow(2, 75, 40.0, 10.0, 200), 83)

    def test_the_reason_says_time_budget_and_which_weights_were_kept(self):
        r = TimeBudget(1200.0).reason(7, 30, 1150.4, [150.0, 160.2], "kept epoch 6's weights (val accuracy 0.9000)")
        self.assertIn("time budget", r)
        self.assertIn("after epoch 7 of 30", r)
        self.assertIn("1150 s of the 1200 s budget", r)
        self.assertIn("about 160 s", r)
        self.assertIn("kept epoch 6's weights", r)


if __name__ == "__main__":
    unittest.main()
