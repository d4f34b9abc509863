"""One module per task: its network, loss, metrics and export head."""

from __future__ import annotations

from ..job import Job
from .base import Batch, Task


def task_for(job: Job) -> Task:
    if job.task == "classification":
        from .classification import Classification

        return Classification(job)
    if job.task == "anomaly":
        from .anomaly import Anomaly

        return Anomaly(job)
    if job.task == "segmentation":
        from .segmentation import Segmentation

        return Segmentation(job)
    from .detection import Detection

    return Detection(job)


__all__ = ["Batch", "Task", "task_for"]
