"""Reference-image inspection (kensa_trainer/reference.py): alignment, the job's `reference`, and
a segmentation model that sees the golden template finding missing and extra marks on products
it never trained on, where the same model without the template cannot.

`python3 -m unittest tests.test_reference` from trainers/torch (needs torch; the two trainings
take a few minutes on two cores)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

from kensa_trainer.errors import JobInvalid
from kensa_trainer.job import parse_job
from kensa_trainer.reference import best_shift, shift_image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference_parts  # noqa: E402


def base_job(**extra):
    return {
        "schema": "kensa.trainer-job/v1",
        "jobId": "j",
        "task": "classification",
        "labels": ["ok", "defect"],
        "okLabels": ["ok"],
        "input": {"width": 64, "height": 64, "channels": 1},
        "outputDir": "/tmp/out",
        "samples": [
            {"id": "a", "path": "/a.png", "split": "train", "classes": ["ok"]},
            {"id": "b", "path": "/b.png", "split": "train", "classes": ["defect"], "referenceKey": "p1"},
            {"id": "c", "path": "/c.png", "split": "val", "classes": ["ok"]},
        ],
        **extra,
    }


class AlignmentTest(unittest.TestCase):
    def test_a_known_shift_is_found_whatever_the_brightness(self):
        rng = np.random.default_rng(1)
        cells = reference_parts.template(rng, 64)
        ref = reference_parts.render(cells, 64).astype(np.uint8)[None]
        for dx, dy in [(0, 0), (3, -2), (-4, 4), (1, 0)]:
            frame = np.clip(reference_parts.render(cells, 64, (dx, dy), gain=1.15), 0, 255).astype(np.uint8)[None]
            self.assertEqual(best_shift(frame, ref, 4), (dx, dy))

    def test_the_shifted_reference_repeats_its_edges(self):
        img = np.arange(16, dtype=np.uint8).reshape(1, 4, 4)
        out = shift_image(img, 1, -1)
        self.assertEqual(out[0, 0].tolist(), [4, 4, 5, 6])
        self.assertEqual(out[0, 3].tolist(), [12, 12, 13, 14])

    def test_max_shift_zero_declares_pre_aligned(self):
        a = np.zeros((1, 32, 32), dtype=np.uint8)
        self.assertEqual(best_shift(a, a, 0), (0, 0))


class ReferenceJobTest(unittest.TestCase):
    def test_a_reference_job_takes_three_times_the_channels(self):
        job = parse_job(base_job(reference={"images": {"p0": "/p0.png", "p1": "/p1.png"}, "defaultKey": "p0"}))
        self.assertEqual(job.input_channels, 3)
        self.assertEqual(job.reference.max_shift, 4)
        self.assertEqual(job.samples[1].reference_key, "p1")

    def test_an_unknown_key_and_a_bad_default_are_refused_with_their_paths(self):
        with self.assertRaisesRegex(JobInvalid, r"/samples/1/referenceKey: 'p1' is not a key"):
            parse_job(base_job(reference={"images": {"p0": "/p0.png"}}))
        with self.assertRaisesRegex(JobInvalid, "/reference/defaultKey"):
            parse_job(base_job(reference={"images": {"p0": "/p0.png", "p1": "/p1.png"}, "defaultKey": "x"}))
        with self.assertRaisesRegex(JobInvalid, "/reference/maxShift"):
            parse_job(base_job(reference={"images": {"p0": "/p0.png", "p1": "/p1.png"}, "maxShift": 40}))

    def test_tiling_is_refused(self):
        j = base_job(reference={"images": {"p0": "/p0.png", "p1": "/p1.png"}}, task="segmentation",
                     tiling={"width": 64, "height": 64})
        for s in j["samples"]:
            s["maskPath"] = "/m.png"
        with self.assertRaisesRegex(JobInvalid, "/reference: reference-image inspection cannot be combined with tiling"):
            parse_job(j)

    def test_detection_is_refused(self):
        j = base_job(reference={"images": {"p0": "/p0.png", "p1": "/p1.png"}}, task="detection")
        with self.assertRaisesRegex(JobInvalid, "reference-image inspection is for classification and segmentation"):
            parse_job(j)


PRODUCTS, PER_PRODUCT, SIZE, EPOCHS = 48, 6, 48, 5


def part_job(data: str, out: str, with_reference: bool, task: str = "classification") -> dict:
    with open(os.path.join(data, "parts.json")) as f:
        index = json.load(f)
    samples = []
    for i, p in enumerate(index["parts"]):
        product = int(p["key"][1:])
        # the last quarter of the products are new ones, seen only through their references
        split = "test" if product >= PRODUCTS * 3 // 4 else ("val" if i % 5 == 0 else "train")
        s = {"id": p["file"], "path": os.path.join(data, p["file"]), "split": split,
             "classes": ["defect" if p["defect"] else "ok"]}
        if task == "segmentation":
            s = {**s, "classes": [], "maskPath": os.path.join(data, p["mask"])}
        if with_reference:
            s["referenceKey"] = p["key"]
        samples.append(s)
    job = {
        "schema": "kensa.trainer-job/v1", "jobId": ("ref" if with_reference else "plain") + task[:3], "task": task,
        "labels": ["ok", "defect"], "okLabels": ["ok"], "input": {"width": SIZE, "height": SIZE, "channels": 1},
        "hyper": {"epochs": EPOCHS, "batchSize": 16, "lr": 0.001, "patience": 0,
                  "augment": {"hflip": False, "rotate": False, "crop": False}},
        "seed": 0, "threads": 2, "outputDir": out, "samples": samples,
    }
    if with_reference:
        job["reference"] = {"images": {k: os.path.join(data, f) for k, f in index["references"].items()},
                            "defaultKey": "p0", "maxShift": 4}
    return job


def train(job: dict, work: str) -> dict:
    path = os.path.join(work, f"{job['jobId']}.json")
    with open(path, "w") as f:
        json.dump(job, f)
    r = subprocess.run([sys.executable, "-m", "kensa_trainer", path], cwd=os.path.dirname(HERE),
                       capture_output=True, text=True, timeout=3600)
    if r.returncode != 0:
        raise AssertionError(f"trainer exited {r.returncode}: {r.stdout[-2000:]} {r.stderr[-2000:]}")
    with open(os.path.join(job["outputDir"], "metrics.json")) as f:
        return json.load(f)


class ReferenceBeatsPlainTest(unittest.TestCase):
    def test_the_reference_aware_model_finds_defects_on_new_products_and_the_plain_one_cannot(self):
        # segmentation: which mark is missing or extra, pixel by pixel, on products never trained on
        with tempfile.TemporaryDirectory() as work:
            data = os.path.join(work, "parts")
            reference_parts.write(data, seed=0, products=PRODUCTS, per_product=PER_PRODUCT, size=SIZE)
            ref = train(part_job(data, os.path.join(work, "ref"), True, "segmentation"), work)
            plain = train(part_job(data, os.path.join(work, "plain"), False, "segmentation"), work)
            iou_ref, iou_plain = ref["test"]["primary"], plain["test"]["primary"]
            print(f"test meanIoU on unseen products: with reference {iou_ref:.3f}, without {iou_plain:.3f}", file=sys.stderr)
            self.assertGreaterEqual(iou_ref, 0.7)
            self.assertGreaterEqual(iou_ref - iou_plain, 0.4)
            with open(os.path.join(work, "ref", "manifest.json")) as f:
                manifest = json.load(f)
            self.assertEqual(manifest["input"]["channels"], 1)
            self.assertEqual([i["key"] for i in manifest["reference"]["images"]], sorted(f"p{i}" for i in range(PRODUCTS)))
            for entry in manifest["reference"]["images"]:
                self.assertEqual(hashlib.sha256(base64.b64decode(entry["png"])).hexdigest(), entry["sha256"])


if __name__ == "__main__":
    unittest.main()
