"""Progress as JSON lines on stdout (the contract's TrainerProgress) and a human log in train.log."""

from __future__ import annotations

import json
import math
import sys
import time
from typing import IO, Any


class Progress:
    """Writes contract lines to the real stdout and mirrors every event into train.log.

    Everything else that might print (torch warnings, the ONNX exporter) is sent to stderr by
    __main__, so stdout carries nothing but contract lines."""

    def __init__(self, stdout: IO[str]) -> None:
        self._out = stdout
        self._log: IO[str] | None = None
        self._t0 = time.monotonic()
        self._last_step_emit = -math.inf

    def open_log(self, path: str) -> None:
        # train.log is written as we go (not atomically): after a failure it is the evidence
        self._log = open(path, "a", encoding="utf-8")

    def close(self) -> None:
        if self._log:
            self._log.close()
            self._log = None

    def elapsed(self) -> float:
        return time.monotonic() - self._t0

    def emit(self, type_: str, **fields: Any) -> None:
        line = {"type": type_, **fields, "elapsedSec": round(self.elapsed(), 3)}
        text = json.dumps(line, allow_nan=False, default=_unserialisable)
        self._out.write(text + "\n")
        self._out.flush()
        if self._log:
            self._log.write(text + "\n")
            self._log.flush()

    def log(self, message: str, level: str = "info") -> None:
        self.emit("log", level=level, message=message)

    def step(self, **fields: Any) -> None:
        """Step lines are throttled to about one per second: the hub stores progress, not every batch."""
        now = time.monotonic()
        if now - self._last_step_emit < 1.0 and fields["step"] != fields["totalSteps"]:
            return
        self._last_step_emit = now
        self.emit("step", **fields)

    def note(self, text: str) -> None:
        """Free text for train.log only (tracebacks, exporter warnings)."""
        if self._log:
            self._log.write(text.rstrip("\n") + "\n")
            self._log.flush()
        print(text, file=sys.stderr)


def _unserialisable(v: Any) -> Any:
    raise TypeError(f"not JSON-serialisable: {type(v).__name__}")


def clean(v: float) -> float:
    """JSON has no NaN/inf; the contract's numbers are finite (a diverged run fails instead)."""
    if isinstance(v, float) and not math.isfinite(v):
        return -1.0
    return float(v)
