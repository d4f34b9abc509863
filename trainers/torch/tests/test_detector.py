"""The built-in detector (kensa_trainer/models_det.py, detection_targets.py, tasks/detection.py):
GIoU, the target assignment, the box loss, the exported tensors, and the network learning boxes
on synthetic frames.

Needs torch: `python3 -m unittest tests.test_detector` from trainers/torch (a few seconds)."""

from __future__ import annotations

import math
import unittest

try:
    import torch
except ImportError:  # the stdlib-only tests still run without torch
    torch = None


@unittest.skipIf(torch is None, "needs torch")
class GiouTest(unittest.TestCase):
    def test_identical_disjoint_and_nested_boxes(self):
        from kensa_trainer.detection_targets import giou

        a = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]])
        b = torch.tensor([[0.0, 0, 10, 10], [20, 0, 30, 10], [0, 0, 5, 10]])
        g = giou(a, b)
        self.assertAlmostEqual(float(g[0]), 1.0, places=5)
        # disjoint: IoU 0, hull 30×10 of which 10 px wide is empty → −1/3
        self.assertAlmostEqual(float(g[1]), -1 / 3, places=5)
        # nested: IoU 0.5, the hull is the larger box → 0.5
        self.assertAlmostEqual(float(g[2]), 0.5, places=5)


@unittest.skipIf(torch is None, "needs torch")
class TargetsTest(unittest.TestCase):
    def setUp(self):
        from kensa_trainer.detection_targets import Grid

        self.grid = Grid(16, 16, 64, 64)  # 4 px cells

    def test_a_box_peaks_at_its_centre_cell_and_its_cells_weigh_log_area(self):
        from kensa_trainer.detection_targets import build_targets

        heat, target, weight = build_targets([torch.tensor([[2.0, 8, 16, 32, 16]])], 3, self.grid)
        # centre (24, 24) px → cell (6, 6)
        self.assertEqual(float(heat[0, 2, 6, 6]), 1.0)
        self.assertEqual(float(heat[0, :2].abs().sum()), 0.0)
        self.assertEqual(int(heat.eq(1).sum()), 1)
        self.assertAlmostEqual(float(weight.sum()), math.log(32 * 16), places=4)
        # every regressing cell holds the box (x0, y0, x1, y1) and lies inside it
        cells = weight[0] > 0
        self.assertGreater(int(cells.sum()), 1)
        for v, want in zip(target[0, :, cells], (8.0, 16.0, 40.0, 32.0)):
            self.assertTrue(bool((v == want).all()))
        self.assertTrue(bool((self.grid.px[cells] > 8).all() and (self.grid.px[cells] < 40).all()))

    def test_the_smaller_of_two_overlapping_boxes_owns_their_shared_cells(self):
        from kensa_trainer.detection_targets import build_targets

        big = [0.0, 0, 0, 64, 64]
        small = [1.0, 24, 24, 16, 16]
        _, target, weight = build_targets([torch.tensor([small, big])], 2, self.grid)
        centre = target[0, :, 8, 8]
        self.assertEqual(centre.tolist(), [24.0, 24.0, 40.0, 40.0])
        self.assertGreater(float(weight[0, 8, 8]), 0.0)

    def test_an_image_without_boxes_has_no_targets(self):
        from kensa_trainer.detection_targets import build_targets

        heat, _, weight = build_targets([torch.zeros((0, 5))], 2, self.grid)
        self.assertEqual(float(heat.sum()), 0.0)
        self.assertEqual(float(weight.sum()), 0.0)

    def test_the_box_loss_is_zero_for_exact_boxes_and_grows_with_error(self):
        from kensa_trainer.detection_targets import box_loss, build_targets

        _, target, weight = build_targets([torch.tensor([[0.0, 8, 16, 32, 16]])], 1, self.grid)
        self.assertAlmostEqual(float(box_loss(target, target, weight)), 0.0, places=5)
        off = target + torch.tensor([4.0, 0, 4, 0]).reshape(1, 4, 1, 1)
        worse = target + torch.tensor([8.0, 0, 8, 0]).reshape(1, 4, 1, 1)
        self.assertLess(float(box_loss(off, target, weight)), float(box_loss(worse, target, weight)))

    def test_log_distances_decode_to_the_boxes_they_encode(self):
        # a cell at px (26, 22) with distances l 6, t 2, r 10, b 18 px → box (20, 20, 36, 40)
        dist = torch.zeros((1, 4, 16, 16))
        cw = self.grid.cw
        dist[0, :, 5, 6] = torch.log(torch.tensor([6.0, 2, 10, 18]) / cw)
        box = self.grid.boxes(dist)[0, :, 5, 6]
        self.assertTrue(torch.allclose(box, torch.tensor([20.0, 20, 36, 40]), atol=1e-4))


@unittest.skipIf(torch is None, "needs torch")
class BoxAugmentTest(unittest.TestCase):
    def move(self, box, mat):
        from kensa_trainer.augment import _move_boxes

        m = torch.tensor(mat, dtype=torch.float64)
        return _move_boxes(torch.tensor([box]), m, torch.zeros(2, dtype=torch.float64), 100, 100)[0].tolist()

    def test_identity_and_flips_are_exact(self):
        self.assertEqual(self.move([1.0, 10, 20, 30, 40], [[1, 0], [0, 1]]), [1.0, 10, 20, 30, 40])
        self.assertEqual(self.move([1.0, 10, 20, 30, 40], [[-1, 0], [0, 1]]), [1.0, 60, 20, 30, 40])

    def test_a_rotated_thin_box_stays_tighter_than_its_corners_hull(self):
        a = math.radians(10)
        rot = [[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]]
        _, x, y, w, h = self.move([0.0, 40, 0, 20, 100], rot)
        hull_w = 20 * math.cos(a) + 100 * math.sin(a)  # 37 px
        self.assertGreater(w, 20.0)
        self.assertLess(w, 0.75 * hull_w)
        self.assertAlmostEqual(x + w / 2, 50.0, places=4)  # the centre maps exactly


@unittest.skipIf(torch is None, "needs torch")
class DetectorTest(unittest.TestCase):
    def test_it_learns_synthetic_boxes_and_exports_them_in_the_yolov8_layout(self):
        from kensa_trainer.detection_targets import REG_WEIGHT, Grid, box_loss, build_targets, focal_heatmap_loss
        from kensa_trainer.models_det import PyramidDetector
        from kensa_trainer.tasks.detection import _Heads

        torch.manual_seed(0)
        torch.set_num_threads(1)
        g = torch.Generator().manual_seed(1)
        size = 64
        grid = Grid(16, 16, size, size)

        def frames(n):
            x = torch.rand((n, 1, size, size), generator=g) * 0.2
            boxes = []
            for i in range(n):
                w, h = [int(v) for v in torch.randint(12, 40, (2,), generator=g)]
                x0 = int(torch.randint(0, size - w, (1,), generator=g))
                y0 = int(torch.randint(0, size - h, (1,), generator=g))
                x[i, 0, y0 : y0 + h, x0 : x0 + w] += 0.7
                boxes.append(torch.tensor([[0.0, x0, y0, w, h]]))
            return x, boxes

        model = PyramidDetector(1, 1, size, size, widths=(8, 16, 16, 24, 24), neck=(16, 16, 16))
        opt = torch.optim.AdamW(model.parameters(), lr=0.01)
        losses = []
        for _ in range(60):
            x, boxes = frames(16)
            heat_t, box_t, w = build_targets(boxes, 1, grid)
            heat, dist = model(x)
            loss = focal_heatmap_loss(heat, heat_t) + REG_WEIGHT * box_loss(grid.boxes(dist), box_t, w)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss))
        self.assertLess(sum(losses[-10:]) / 10, 0.5 * sum(losses[:10]) / 10)

        model.eval()
        x, boxes = frames(16)
        with torch.no_grad():
            predictions, heatmap, wh, offset = _Heads(model, grid).eval()(x)
        self.assertEqual(tuple(predictions.shape), (16, 5, 256))
        self.assertEqual(tuple(heatmap.shape), (16, 1, 16, 16))
        hits = 0
        for i, bx in enumerate(boxes):
            best = int(predictions[i, 4].argmax())
            cx, cy, w, h = predictions[i, :4, best].tolist()
            # size and offset describe the same box as the predictions column
            self.assertAlmostEqual(w, float(wh[i, 0].flatten()[best]), places=4)
            self.assertAlmostEqual(cx, (float(offset[i, 0].flatten()[best]) + best % 16) * grid.cw, places=3)
            _, x0, y0, bw, bh = bx[0].tolist()
            ix = max(0.0, min(cx + w / 2, x0 + bw) - max(cx - w / 2, x0))
            iy = max(0.0, min(cy + h / 2, y0 + bh) - max(cy - h / 2, y0))
            iou = ix * iy / (w * h + bw * bh - ix * iy)
            hits += iou >= 0.5
        self.assertGreaterEqual(hits, 12, f"only {hits} of 16 boxes found at IoU ≥ 0.5")


if __name__ == "__main__":
    unittest.main()
