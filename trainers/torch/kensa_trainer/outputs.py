"""Atomic outputs: every file is written under a temporary name and renamed into place only when
the whole run succeeded, model.onnx last. A failed or cancelled run leaves no model behind
(only train.log, which is evidence)."""

from __future__ import annotations

import json
import os
import re
from typing import Any

FINAL = ("model.onnx", "model.int8.onnx", "manifest.json", "metrics.json", "curves.json")
_TEMP = re.compile(r"^\.(model\.onnx|model\.int8\.onnx|manifest\.json|metrics\.json|curves\.json)\.tmp-\d+$")


class Outputs:
    def __init__(self, directory: str) -> None:
        self.dir = directory
        self._temps: dict[str, str] = {}
        self.committed: list[str] = []

    def prepare(self) -> None:
        """Creates the directory and removes temporaries a killed (SIGKILL) run left behind."""
        os.makedirs(self.dir, exist_ok=True)
        for name in os.listdir(self.dir):
            if _TEMP.match(name):
                os.unlink(os.path.join(self.dir, name))

    def existing(self) -> list[str]:
        return [n for n in FINAL if os.path.exists(os.path.join(self.dir, n))]

    def temp(self, name: str) -> str:
        path = os.path.join(self.dir, f".{name}.tmp-{os.getpid()}")
        self._temps[name] = path
        return path

    def write_json(self, name: str, value: Any) -> None:
        with open(self.temp(name), "w", encoding="utf-8") as f:
            json.dump(value, f, indent=2, allow_nan=False)
            f.write("\n")

    def commit(self) -> list[str]:
        for path in self._temps.values():
            _fsync(path)
        # model.onnx is renamed last: its presence means every other output is complete
        names = sorted(self._temps, key=lambda n: n == "model.onnx")
        for name in names:
            os.replace(self._temps[name], os.path.join(self.dir, name))
            self.committed.append(name)
        _fsync_dir(self.dir)
        self._temps.clear()
        return names

    def discard(self) -> None:
        """Removes temporaries and anything already committed by an interrupted commit."""
        for path in self._temps.values():
            _unlink(path)
        for name in self.committed:
            _unlink(os.path.join(self.dir, name))
        self._temps.clear()
        self.committed.clear()


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: str) -> None:
    try:
        _fsync(path)
    except OSError:
        pass  # some filesystems refuse fsync on directories; the renames still happened


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
