"""Trains a small reference-aware classifier in-process and writes what the trainer itself
computes for every part, for packages/vision's parity test (test/reference-parity.test.ts).

`python3 tests/reference_parity.py OUT_DIR [classification|segmentation]` (cwd trainers/torch)
writes the parts, `model.onnx`, `manifest.json` and `expected.json`: per part its file, key, the
alignment shift and the exported model's class probabilities (segmentation: each class's mean over
the frame) on the trainer's own stacked input."""

from __future__ import annotations

import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import reference_parts  # noqa: E402
from kensa_trainer.__main__ import _manifest  # noqa: E402
from kensa_trainer.data import channel_stats, load_split  # noqa: E402
from kensa_trainer.export import export_onnx  # noqa: E402
from kensa_trainer.job import parse_job  # noqa: E402
from kensa_trainer.loop import Preparer, train  # noqa: E402
from kensa_trainer.progress import Progress  # noqa: E402
from kensa_trainer.reference import best_shift, load_references  # noqa: E402
from kensa_trainer.tasks import task_for  # noqa: E402


def main(out: str, task_name: str) -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    data = os.path.join(out, "parts")
    index = reference_parts.write(data, seed=3, products=3, per_product=8, size=48)
    samples = [
        {"id": p["file"], "path": os.path.join(data, p["file"]), "split": "val" if i % 4 == 0 else "train",
         "classes": ["defect" if p["defect"] else "ok"], "referenceKey": p["key"]}
        for i, p in enumerate(index["parts"])
    ]
    if task_name == "segmentation":
        samples = [{**s, "classes": [], "maskPath": os.path.join(data, p["mask"])} for s, p in zip(samples, index["parts"])]
    job = parse_job({
        "schema": "kensa.trainer-job/v1", "jobId": "parity", "task": task_name,
        "labels": ["ok", "defect"], "okLabels": ["ok"], "input": {"width": 48, "height": 48, "channels": 1},
        "hyper": {"epochs": 1, "batchSize": 16}, "seed": 0, "outputDir": os.path.join(out, "run"),
        "samples": samples,
        "reference": {"images": {k: os.path.join(data, f) for k, f in index["references"].items()},
                      "defaultKey": "p0", "maxShift": 4},
    })
    splits = {name: load_split(job, name) for name in ("train", "val")}
    mean, std = channel_stats(splits["train"].images)
    task = task_for(job)
    prep = Preparer(job, mean, std)
    with open(os.devnull, "w") as null:
        result = train(job, task, splits["train"], splits["val"], prep, Progress(null))
    export_onnx(task, result.model, job.input_channels, job.height, job.width, os.path.join(out, "model.onnx"))
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(_manifest(job, task, mean, std), f)

    from kensa_trainer.data import _read_image

    refs = load_references(job, lambda s: _read_image(s, job)[0])
    module = task.export_module(result.model).eval()
    expected = []
    for name in ("train", "val"):
        split = splits[name]
        with torch.no_grad():
            probs = module(prep(split, torch.arange(len(split))).x)
        for i, sid in enumerate(split.ids):
            s = next(x for x in job.samples if x.id == sid)
            shift = best_shift(split.images[i].numpy(), refs[s.reference_key], 4)
            # classification: the class probabilities; segmentation: each class's mean probability over the frame
            p = probs[i] if probs[i].dim() == 1 else probs[i].mean(dim=(1, 2))
            expected.append({"file": os.path.join(data, sid), "key": s.reference_key, "shift": list(shift),
                             "probs": [float(v) for v in p]})
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "classification")
