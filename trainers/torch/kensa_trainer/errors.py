"""Failures the trainer reports, each with the exit code and catalog code the contract names."""

from __future__ import annotations


class TrainerError(Exception):
    """A failure with a stable exit code and error-catalog code (packages/contracts/src/errors.ts)."""

    exit_code = 4
    code = "KENSA_ERR_TRAINER_FAILED"


class JobInvalid(TrainerError):
    exit_code = 2
    code = "KENSA_ERR_TRAINER_JOB_INVALID"


class DataInvalid(TrainerError):
    exit_code = 3
    code = "KENSA_ERR_TRAINER_DATA_INVALID"


class TrainingFailed(TrainerError):
    exit_code = 4
    code = "KENSA_ERR_TRAINER_FAILED"


class ExportFailed(TrainerError):
    exit_code = 5
    code = "KENSA_ERR_TRAINER_EXPORT_FAILED"


class Cancelled(BaseException):
    """Raised from the SIGINT/SIGTERM handler. A BaseException so that no `except Exception`
    in training or export code swallows it."""

    code = "KENSA_ERR_TRAINER_CANCELLED"

    def __init__(self, signum: int) -> None:
        super().__init__(f"cancelled by signal {signum}")
        self.exit_code = 128 + signum
