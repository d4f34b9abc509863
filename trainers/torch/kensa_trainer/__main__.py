"""Entry point: `python3 -m kensa_trainer job.json` (cwd trainers/torch), or `train.py job.json`.

Exit codes and output files follow the trainer contract (../README.md)."""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import traceback
from types import FrameType
from typing import Any, NoReturn

# OpenMP threads that spin while they wait for each other (libgomp's default) lose whole scheduler
# slices when other work shares the cores: 2 threads on a loaded 2-core machine took 8× longer per
# step than with passive waiting. Set before torch loads its OpenMP runtime; a caller's value wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .errors import Cancelled, DataInvalid, ExportFailed, JobInvalid, TrainerError, TrainingFailed
from .progress import Progress


class _Signals:
    """SIGINT/SIGTERM raise Cancelled at the next Python instruction, except while outputs are
    being renamed into place: then the signal is remembered and honoured right after."""

    def __init__(self) -> None:
        self.deferring = False
        self.pending: int | None = None

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.deferring:
            self.pending = signum
            return
        raise Cancelled(signum)


def main(argv: list[str]) -> int:
    real_stdout = sys.stdout
    # stdout carries contract lines only; anything else that prints goes to stderr
    sys.stdout = sys.stderr
    progress = Progress(real_stdout)
    signals = _Signals()
    signals.install()

    if len(argv) == 2 and argv[1] == "--defaults":
        from .job import defaults

        real_stdout.write(json.dumps(defaults()) + "\n")
        return 0
    if len(argv) != 2:
        return _fail(progress, JobInvalid("usage: python3 -m kensa_trainer JOB.json"))

    outputs = None
    stage = "job"
    try:
        from .job import load_job

        job = load_job(argv[1])
        from .outputs import Outputs

        outputs = Outputs(job.output_dir)
        try:
            outputs.prepare()
        except OSError as e:
            raise JobInvalid(f"outputDir cannot be created or cleaned: {e}") from None
        if outputs.existing():
            raise JobInvalid(f"outputDir already holds {', '.join(outputs.existing())}; use a fresh directory per run")
        progress.open_log(os.path.join(job.output_dir, "train.log"))
        progress.note(f"job {job.job_id}: {job.task}, {len(job.samples)} samples, outputs in {job.output_dir}")

        stage = "setup"
        import numpy as np
        import torch

        threads = job.threads or os.cpu_count() or 1
        torch.set_num_threads(threads)
        random.seed(job.seed)
        np.random.seed(job.seed)
        torch.manual_seed(job.seed)
        # CPU kernels are deterministic for a fixed thread count; warn_only keeps a rare
        # nondeterministic op from failing the run
        torch.use_deterministic_algorithms(True, warn_only=True)

        stage = "data"
        from .data import channel_stats, load_split

        if job.tiling:
            from .tiling import Tiling, load_tiled_split

            tiling = Tiling.of(job.tiling)
            splits = {name: load_tiled_split(job, name, tiling) for name in ("train", "val", "test")}
            progress.log(
                f"tiled: {tiling.width}x{tiling.height} px tiles (overlap {tiling.overlap} px) resized to "
                f"{job.width}x{job.height}; tiles train {len(splits['train'])}, val {len(splits['val'])}, test {len(splits['test'])}"
            )
        else:
            splits = {name: load_split(job, name) for name in ("train", "val", "test")}
        mean, std = channel_stats(splits["train"].images)

        stage = "train"
        from .loop import Preparer, train
        from .tasks import task_for

        task = task_for(job)
        prep = Preparer(job, mean, std, getattr(task, "synthesize", None))
        learn_from = task.train_split(splits["train"])
        if len(learn_from) != len(splits["train"]):
            left = len(splits["train"]) - len(learn_from)
            progress.log(
                f"{job.task}: learning from {len(learn_from)} OK training images with synthesized defects; "
                f"{left} anomalous training images left out (validation and test keep theirs)"
            )
        result = train(job, task, learn_from, splits["val"], prep, progress)
        eval_bs = max(job.hyper.batch_size, 64)
        val = task.evaluate(result.model, splits["val"], prep, eval_bs)
        task.calibrate(val)
        test = task.evaluate(result.model, splits["test"], prep, eval_bs) if len(splits["test"]) else None

        stage = "export"
        from .export import QUANT_BACKEND, export_onnx, quantize

        export_onnx(task, result.model, job.input_channels, job.height, job.width, outputs.temp("model.onnx"))
        int8: dict[str, Any] | None = None
        if job.hyper.quantize:
            qmodel = quantize(result.model, splits["train"], prep)
            q_val = task.evaluate(qmodel, splits["val"], prep, eval_bs)
            q_test = task.evaluate(qmodel, splits["test"], prep, eval_bs) if len(splits["test"]) else None
            export_onnx(task, qmodel, job.input_channels, job.height, job.width, outputs.temp("model.int8.onnx"))
            int8 = {
                "model": "model.int8.onnx",
                "backend": QUANT_BACKEND,
                "val": _clean_metrics(q_val),
                "test": _clean_metrics(q_test) if q_test else None,
                "valPrimaryDelta": q_val["primary"] - val["primary"],
            }
            progress.log(f"int8 val {task.primary} {q_val['primary']:.4f} vs fp32 {val['primary']:.4f}")

        stage = "write"
        outputs.write_json("manifest.json", _manifest(job, task, mean, std))
        metrics: dict[str, Any] = {
            "schema": "kensa.trainer-metrics/v1",
            "jobId": job.job_id,
            "task": job.task,
            "primaryMetric": task.primary,
            "bestEpoch": result.best_epoch,
            "epochsRun": result.epochs_run,
            "stoppedEarly": result.stopped_early,
            "stopReason": result.stop_reason,
            "seed": job.seed,
            "elapsedSec": round(progress.elapsed(), 3),
            "val": _clean_metrics(val),
            "test": _clean_metrics(test) if test else None,
        }
        if int8:
            metrics["int8"] = int8
        outputs.write_json("metrics.json", metrics)
        outputs.write_json(
            "curves.json", {"schema": "kensa.trainer-curves/v1", "primaryMetric": task.primary, "epochs": result.curves}
        )
        signals.deferring = True
        written = outputs.commit()
        signals.deferring = False
        if signals.pending is not None:
            raise Cancelled(signals.pending)
        progress.emit(
            "done",
            bestEpoch=result.best_epoch,
            epochsRun=result.epochs_run,
            stoppedEarly=result.stopped_early,
            stopReason=result.stop_reason,
            primaryMetric=task.primary,
            val=val["primary"],
            test=test["primary"] if test else None,
            outputs=[*written, "train.log"],
        )
        progress.close()
        return 0
    except Cancelled as e:
        signals.deferring = True  # a second signal must not interrupt the clean-up
        if outputs:
            outputs.discard()
        return _fail(progress, e)
    except TrainerError as e:
        if outputs:
            outputs.discard()
        return _fail(progress, e)
    except Exception as e:  # noqa: BLE001 - the contract maps every failure to an exit code
        progress.note(traceback.format_exc())
        if outputs:
            outputs.discard()
        kind = {"data": DataInvalid, "export": ExportFailed, "write": ExportFailed}.get(stage, TrainingFailed)
        return _fail(progress, kind(f"{stage} failed: {type(e).__name__}: {e}"))


def _fail(progress: Progress, e: TrainerError | Cancelled) -> int:
    progress.emit("error", code=e.code, exitCode=e.exit_code, message=str(e))
    progress.close()
    return e.exit_code


def _clean_metrics(m: dict[str, Any]) -> dict[str, Any]:
    from .progress import clean

    out: dict[str, Any] = {
        "samples": m["samples"],
        "loss": clean(m["loss"]),
        "primary": clean(m["primary"]),
        "values": {k: clean(v) for k, v in m["values"].items()},
        "perClass": {c: {k: clean(v) for k, v in d.items()} for c, d in m["perClass"].items()},
    }
    if "confusion" in m:
        out["confusion"] = m["confusion"]
    return out


def _manifest(job: Any, task: Any, mean: list[float], std: list[float]) -> dict[str, Any]:
    """A ModelManifest (packages/contracts/src/manifest.ts) describing exactly what training fed the model."""
    return {
        "task": job.task,
        "input": {"name": "image", "width": job.width, "height": job.height, "channels": job.channels, "layout": "NCHW"},
        "preprocessing": {"resize": "stretch", "scale": 1 / 255, "mean": mean, "std": std},
        "labels": list(job.labels),
        # segmentation: labels[0] is the background by contract, and a background that counted as
        # a finding would flag every frame
        "okLabels": list(job.ok_labels)
        + ([job.labels[0]] if job.task == "segmentation" and job.labels[0] not in job.ok_labels else []),
        "postprocessing": task.postprocessing(),
        "thresholds": task.thresholds(),
        **({"tiling": dict(job.tiling)} if job.tiling else {}),
        **({"reference": reference_manifest(job)} if job.reference else {}),
    }


def reference_manifest(job: Any) -> dict[str, Any]:
    from .data import _read_image
    from .reference import load_references, manifest_entry

    return manifest_entry(job.reference, load_references(job, lambda s: _read_image(s, job)[0]))


def run() -> NoReturn:
    sys.exit(main(sys.argv))


if __name__ == "__main__":
    run()
