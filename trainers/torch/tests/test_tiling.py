"""Tiled training data (kensa_trainer/tiling.py): the tile grid matches packages/vision's, object
tiles hold their object whole, boxes are clipped to their tile, and padding past a small frame."""

import json
import os
import tempfile
import unittest

import numpy as np
import torch
from PIL import Image

from kensa_trainer.job import parse_job
from kensa_trainer.tiling import PAD, Tiling, load_tiled_split, tile_starts

# computed by packages/vision/src/tiling/layout.ts tileStarts(size, tile, overlap)
VISION_STARTS = [
    (1920, 256, 32, [0, 208, 416, 624, 832, 1040, 1248, 1456, 1664]),
    (1080, 256, 32, [0, 206, 412, 618, 824]),
    (700, 200, 64, [0, 125, 250, 375, 500]),
    (768, 128, 16, [0, 107, 213, 320, 427, 533, 640]),
    (1001, 250, 10, [0, 188, 376, 563, 751]),
    (100, 128, 16, [0]),
]


class TilingTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        d = self.dir.name
        frame = np.full((300, 400), 200, dtype=np.uint8)
        frame[100:110, 150:160] = 0  # the object: 10×10 at (150, 100)
        Image.fromarray(frame).save(os.path.join(d, "big.png"))
        Image.fromarray(np.full((40, 50), 200, dtype=np.uint8)).save(os.path.join(d, "small.png"))
        boxes = [{"label": "spot", "x": 150, "y": 100, "w": 10, "h": 10}]
        samples = [
            {"id": "big", "path": os.path.join(d, "big.png"), "split": "train", "boxes": boxes},
            {"id": "val", "path": os.path.join(d, "big.png"), "split": "val", "boxes": boxes},
            {"id": "small", "path": os.path.join(d, "small.png"), "split": "test", "boxes": []},
        ]
        raw = {
            "schema": "kensa.trainer-job/v1",
            "jobId": "t",
            "task": "detection",
            "labels": ["spot"],
            "input": {"width": 64, "height": 64, "channels": 1},
            "outputDir": os.path.join(d, "out"),
            "samples": samples,
            "tiling": {"width": 64, "height": 64, "overlap": 16},
        }
        self.job = parse_job(json.loads(json.dumps(raw)))
        self.tiling = Tiling.of(self.job.tiling or {})

    def tearDown(self) -> None:
        self.dir.cleanup()

    def test_grid_is_the_inference_grid(self):
        for size, tile, overlap, want in VISION_STARTS:
            self.assertEqual(tile_starts(size, tile, overlap), want, (size, tile, overlap))

    def test_training_tiles_hold_the_object_whole_plus_background(self):
        split = load_tiled_split(self.job, "train", self.tiling)
        assert split.boxes is not None
        with_object = [b for b in split.boxes if len(b)]
        self.assertEqual(len(with_object), 2)
        for b in with_object:
            _, x, y, w, h = b[0].tolist()
            self.assertEqual((w, h), (10.0, 10.0))  # whole, not clipped
            self.assertTrue(0 <= x and x + w <= 64 and 0 <= y and y + h <= 64)
        self.assertGreaterEqual(len(split) - len(with_object), 2)
        # the pixels under the box are the object's
        i = next(k for k, b in enumerate(split.boxes) if len(b))
        _, x, y, _, _ = (int(v) for v in split.boxes[i][0].tolist())
        self.assertEqual(int(split.images[i, 0, y : y + 10, x : x + 10].max()), 0)

    def test_validation_is_the_grid_and_boxes_are_clipped(self):
        split = load_tiled_split(self.job, "val", self.tiling)
        self.assertEqual(len(split), len(tile_starts(400, 64, 16)) * len(tile_starts(300, 64, 16)))
        assert split.boxes is not None
        for sid, b in zip(split.ids, split.boxes):
            tx, ty = (int(v) for v in sid.split("#")[1].split(","))
            for _, x, y, w, h in b.tolist():
                self.assertTrue(x >= 0 and y >= 0 and x + w <= 64.001 and y + h <= 64.001)
                # the part of the true box inside this tile, at least 40 % of it
                self.assertAlmostEqual(x + tx, max(150, tx), places=4)
                self.assertGreaterEqual(w * h, 40)

    def test_a_frame_smaller_than_a_tile_is_padded(self):
        split = load_tiled_split(self.job, "test", self.tiling)
        self.assertEqual(split.ids, ["small#0,0"])
        img = split.images[0, 0]
        self.assertEqual(int(img[:40, :50].min()), 200)
        self.assertTrue(torch.all(img[40:, :] == PAD) and torch.all(img[:, 50:] == PAD))


if __name__ == "__main__":
    unittest.main()
