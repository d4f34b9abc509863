"""Reads and validates job.json against the contract (TrainerJob in packages/contracts/src/trainer.ts).

Validation is written out by hand rather than generated from the JSON schema so that the trainer
needs nothing beyond torch, torchvision, onnx and PIL. Defaults mirror the TypeBox schema; a test
compares them."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from .errors import JobInvalid
from .reference import ReferenceSpec, key_issues, parse_reference
from .stopping import DEFAULT_PATIENCE

SCHEMA = "kensa.trainer-job/v1"
TASKS = ("classification", "segmentation", "detection", "anomaly")
SPLITS = ("train", "val", "test")

AUGMENT_DEFAULTS: dict[str, bool] = {
    "hflip": True,
    "vflip": False,
    "rotate": True,
    "brightnessContrast": True,
    "noise": True,
    "crop": True,
}
HYPER_DEFAULTS: dict[str, Any] = {
    "epochs": 30,
    "batchSize": 32,
    "lr": 0.002,
    "weightDecay": 0.0001,
    "balanceClasses": True,
    "quantize": False,
}


@dataclass(frozen=True)
class Box:
    label: str
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class Sample:
    id: str
    path: str
    split: str
    classes: list[str]
    boxes: list[Box] | None
    mask_path: str | None
    #: reference-image inspection: the key of the sample's golden reference (None: the default)
    reference_key: str | None = None


@dataclass(frozen=True)
class Hyper:
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    patience: int
    augment: dict[str, bool]
    balance_classes: bool
    quantize: bool
    #: hyper.patience was given (by a person or the project's defaults): used as is, not scaled to the budget
    patience_set: bool = False


@dataclass(frozen=True)
class Job:
    job_id: str
    task: str
    labels: list[str]
    ok_labels: list[str]
    width: int
    height: int
    channels: int
    hyper: Hyper
    seed: int
    threads: int | None
    output_dir: str
    samples: list[Sample] = field(repr=False)
    #: s of wall time since the trainer started; no epoch starts that would not end within it
    budget_sec: float | None = None
    #: hyper.epochs is the hub's estimate of what fits budget_sec, not a person's number: the
    #: loop plans more epochs when the ones it measures leave room (TimeBudget.grow)
    epochs_from_budget: bool = False
    #: {width, height, overlap} in frame px: train on tiles (tiling.py); None = whole frames
    tiling: dict[str, int] | None = None
    #: reference-image inspection (reference.py): the model takes frame, reference and difference
    reference: ReferenceSpec | None = None

    @property
    def input_channels(self) -> int:
        """Channels of the model's input tensor: 3 × the image's with a reference, else the image's."""
        return self.channels * 3 if self.reference else self.channels

    def split(self, name: str) -> list[Sample]:
        return [s for s in self.samples if s.split == name]


class _Checker:
    """Collects every problem with its key path, like the TypeBox errors the hub reports."""

    def __init__(self) -> None:
        self.issues: list[str] = []

    def fail(self, path: str, message: str) -> None:
        if len(self.issues) < 20:
            self.issues.append(f"{path or '/'}: {message}")

    def obj(self, v: Any, path: str, allowed: set[str], required: set[str]) -> dict[str, Any]:
        if not isinstance(v, dict):
            self.fail(path, "expected an object")
            return {}
        for k in sorted(set(v) - allowed):
            self.fail(f"{path}/{k}", "unknown key")
        for k in sorted(required - set(v)):
            self.fail(f"{path}/{k}", "required")
        return v

    def string(self, v: Any, path: str) -> str:
        if not isinstance(v, str) or not v:
            self.fail(path, "expected a non-empty string")
            return ""
        return v

    def integer(self, v: Any, path: str, lo: int, hi: int) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            self.fail(path, f"expected an integer in {lo}..{hi}")
            return lo
        return v

    def number(self, v: Any, path: str, lo: float, hi: float, lo_open: bool = False) -> float:
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and (v > lo if lo_open else v >= lo) and v <= hi
        if not ok:
            self.fail(path, f"expected a number in {'(' if lo_open else '['}{lo}, {hi}]")
            return float(hi)
        return float(v)

    def boolean(self, v: Any, path: str) -> bool:
        if not isinstance(v, bool):
            self.fail(path, "expected a boolean")
            return False
        return v

    def strings(self, v: Any, path: str) -> list[str]:
        if not isinstance(v, list):
            self.fail(path, "expected an array of strings")
            return []
        return [self.string(x, f"{path}/{i}") for i, x in enumerate(v)]


def load_job(path: str) -> Job:
    """Parses job.json; raises JobInvalid listing every bad key path."""
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except FileNotFoundError:
        raise JobInvalid(f"job spec not found: {path}") from None
    except (OSError, ValueError) as e:
        raise JobInvalid(f"job spec is not readable JSON: {path}: {e}") from None
    return parse_job(raw)


def parse_job(raw: Any) -> Job:
    c = _Checker()
    top = {"schema", "jobId", "task", "labels", "okLabels", "input", "hyper", "seed", "threads", "outputDir", "samples", "budgetSec", "epochsFromBudget", "reference", "tiling"}
    v = c.obj(raw, "", top, {"schema", "jobId", "task", "labels", "input", "outputDir", "samples"})
    if "schema" in v and v["schema"] != SCHEMA:
        c.fail("/schema", f"expected {SCHEMA!r}")
    job_id = c.string(v.get("jobId"), "/jobId") if "jobId" in v else ""
    task = v.get("task", "")
    if "task" in v and task not in TASKS:
        c.fail("/task", f"expected one of {', '.join(TASKS)}")
    labels = c.strings(v.get("labels", []), "/labels")
    if "labels" in v and not labels:
        c.fail("/labels", "expected at least one label")
    if len(set(labels)) != len(labels):
        c.fail("/labels", "labels must be unique")
    ok_labels = c.strings(v.get("okLabels", []), "/okLabels")
    for i, lab in enumerate(ok_labels):
        if lab not in labels:
            c.fail(f"/okLabels/{i}", f"{lab!r} is not in labels")

    inp = c.obj(v.get("input", {}), "/input", {"width", "height", "channels"}, {"width", "height"})
    width = c.integer(inp.get("width"), "/input/width", 16, 4096) if "width" in inp else 16
    height = c.integer(inp.get("height"), "/input/height", 16, 4096) if "height" in inp else 16
    channels = inp.get("channels", 3)
    if channels not in (1, 3) or isinstance(channels, bool):
        c.fail("/input/channels", "expected 1 or 3")

    hyper = _parse_hyper(c, v.get("hyper", {}))
    seed = c.integer(v.get("seed", 0), "/seed", 0, 2**31 - 1)
    threads = c.integer(v["threads"], "/threads", 1, 1024) if "threads" in v else None
    budget = c.number(v["budgetSec"], "/budgetSec", 0, 1e9, lo_open=True) if "budgetSec" in v else None
    from_budget = c.boolean(v["epochsFromBudget"], "/epochsFromBudget") if "epochsFromBudget" in v else False
    tiling = _parse_tiling(c, v["tiling"], task) if "tiling" in v else None
    out = c.string(v.get("outputDir"), "/outputDir") if "outputDir" in v else ""
    if out and not os.path.isabs(out):
        c.fail("/outputDir", "expected an absolute path")

    reference = parse_reference(c, v["reference"], task, width, height) if "reference" in v else None

    samples: list[Sample] = []
    raw_samples = v.get("samples", [])
    if not isinstance(raw_samples, list) or ("samples" in v and not raw_samples):
        c.fail("/samples", "expected a non-empty array")
        raw_samples = []
    seen: set[str] = set()
    for i, s in enumerate(raw_samples):
        sample = _parse_sample(c, s, f"/samples/{i}", task, labels)
        if sample.id in seen:
            c.fail(f"/samples/{i}/id", f"duplicate sample id {sample.id!r}")
        seen.add(sample.id)
        samples.append(sample)
    if reference is None and any(s.reference_key for s in samples):
        c.fail("/samples", "samples name a referenceKey but the job has no /reference")
    if reference is not None:
        key_issues(c, reference, [s.reference_key for s in samples])
        if tiling is not None:
            c.fail("/reference", "reference-image inspection cannot be combined with tiling (a reference covers the whole part)")

    if c.issues:
        raise JobInvalid("job spec is invalid: " + "; ".join(c.issues))

    for split in ("train", "val"):
        if not any(s.split == split for s in samples):
            raise JobInvalid(f"job spec is invalid: /samples: no {split} samples (train and val are both needed)")
    if task == "classification":
        present = {s.classes[0] for s in samples if s.split == "train"}
        if len(present) < 2:
            raise JobInvalid("job spec is invalid: /samples: classification needs training samples of at least 2 labels")

    return Job(
        job_id=job_id,
        task=task,
        labels=labels,
        ok_labels=ok_labels,
        width=width,
        height=height,
        channels=int(channels),
        hyper=hyper,
        seed=seed,
        threads=threads,
        output_dir=out,
        samples=samples,
        budget_sec=budget,
        epochs_from_budget=bool(from_budget) and budget is not None,
        reference=reference,
        tiling=tiling,
    )


def _parse_tiling(c: _Checker, raw: Any, task: str) -> dict[str, int]:
    """TrainerJob.tiling (Tiling in packages/contracts/src/manifest.ts) and its tilingIssues()."""
    t = c.obj(raw, "/tiling", {"width", "height", "overlap"}, {"width", "height"})
    width = c.integer(t.get("width"), "/tiling/width", 16, 8192) if "width" in t else 16
    height = c.integer(t.get("height"), "/tiling/height", 16, 8192) if "height" in t else 16
    overlap = c.integer(t.get("overlap", 32), "/tiling/overlap", 0, 4096)
    if task == "classification":
        c.fail("/tiling", "classification has no per-tile result to merge; tiling is for detection, segmentation and anomaly")
    if "width" in t and "height" in t and overlap * 2 >= min(width, height):
        c.fail("/tiling/overlap", f"{overlap} px must be less than half the tile's short side ({min(width, height)} px)")
    return {"width": width, "height": height, "overlap": overlap}


def _parse_hyper(c: _Checker, raw: Any) -> Hyper:
    # patience has no default: absent, stopping.py sizes it to the epochs (patience_set False)
    h = c.obj(raw, "/hyper", set(HYPER_DEFAULTS) | {"augment", "patience"}, set())
    g = {**HYPER_DEFAULTS, **h}
    aug_raw = c.obj(h.get("augment", {}), "/hyper/augment", set(AUGMENT_DEFAULTS), set())
    augment = {k: c.boolean(aug_raw.get(k, d), f"/hyper/augment/{k}") for k, d in AUGMENT_DEFAULTS.items()}
    return Hyper(
        epochs=c.integer(g["epochs"], "/hyper/epochs", 1, 10_000),
        batch_size=c.integer(g["batchSize"], "/hyper/batchSize", 1, 4096),
        lr=c.number(g["lr"], "/hyper/lr", 0, 10, lo_open=True),
        weight_decay=c.number(g["weightDecay"], "/hyper/weightDecay", 0, 1),
        patience=c.integer(g.get("patience", DEFAULT_PATIENCE), "/hyper/patience", 0, 1_000_000),
        augment=augment,
        balance_classes=c.boolean(g["balanceClasses"], "/hyper/balanceClasses"),
        quantize=c.boolean(g["quantize"], "/hyper/quantize"),
        patience_set="patience" in h,
    )


def _parse_sample(c: _Checker, raw: Any, path: str, task: str, labels: list[str]) -> Sample:
    s = c.obj(raw, path, {"id", "path", "split", "classes", "boxes", "maskPath", "referenceKey"}, {"id", "path", "split"})
    sid = c.string(s.get("id"), f"{path}/id") if "id" in s else ""
    img = c.string(s.get("path"), f"{path}/path") if "path" in s else ""
    if img and not os.path.isabs(img):
        c.fail(f"{path}/path", "expected an absolute path")
    split = s.get("split", "train")
    if split not in SPLITS:
        c.fail(f"{path}/split", f"expected one of {', '.join(SPLITS)}")
    classes = c.strings(s.get("classes", []), f"{path}/classes")
    for j, lab in enumerate(classes):
        if lab not in labels:
            c.fail(f"{path}/classes/{j}", f"unknown label {lab!r}")
    if task == "classification" and len(classes) != 1:
        c.fail(f"{path}/classes", "classification needs exactly one label per sample (multi-label is not supported)")

    boxes: list[Box] | None = None
    if "boxes" in s:
        boxes = []
        if not isinstance(s["boxes"], list):
            c.fail(f"{path}/boxes", "expected an array")
        else:
            for j, b in enumerate(s["boxes"]):
                bp = f"{path}/boxes/{j}"
                bo = c.obj(b, bp, {"label", "x", "y", "w", "h"}, {"label", "x", "y", "w", "h"})
                lab = c.string(bo.get("label"), f"{bp}/label") if "label" in bo else ""
                if lab and lab not in labels:
                    c.fail(f"{bp}/label", f"unknown label {lab!r}")
                inf = float("inf")
                boxes.append(
                    Box(
                        label=lab,
                        x=c.number(bo.get("x", 0), f"{bp}/x", 0, inf),
                        y=c.number(bo.get("y", 0), f"{bp}/y", 0, inf),
                        w=c.number(bo.get("w", 1), f"{bp}/w", 0, inf, lo_open=True),
                        h=c.number(bo.get("h", 1), f"{bp}/h", 0, inf, lo_open=True),
                    )
                )
    mask = None
    if "maskPath" in s:
        mask = c.string(s["maskPath"], f"{path}/maskPath")
        if mask and not os.path.isabs(mask):
            c.fail(f"{path}/maskPath", "expected an absolute path")
    if task == "segmentation" and mask is None:
        c.fail(f"{path}/maskPath", "segmentation needs a mask for every sample")
    ref_key = c.string(s["referenceKey"], f"{path}/referenceKey") if "referenceKey" in s else None
    return Sample(id=sid, path=img, split=split, classes=classes, boxes=boxes, mask_path=mask, reference_key=ref_key)


def defaults() -> dict[str, Any]:
    """The hyper-parameter defaults, as the contract test compares them with the TypeBox schema."""
    return {**HYPER_DEFAULTS, "augment": dict(AUGMENT_DEFAULTS)}
