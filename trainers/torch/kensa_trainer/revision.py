"""The trainer's source revision: a digest of its own Python files, reported in the `start` line.

The hub computes the same digest of the trainer it would run (apps/hub/src/training/code-revision.ts)
and compares it with the one that trained a project's champion: a changed trainer can trigger a
retrain of the champion's recipe. A content digest rather than a git commit: it holds in an
image without .git, and a hub commit that leaves the trainer untouched does not count as a change."""

from __future__ import annotations

import hashlib
import os

#: hex digits of the digest shown in the trainer's version string
SHORT = 12


def source_revision(package_dir: str | None = None) -> str:
    """sha256 over every *.py file under the package: for each, sorted by relative POSIX path,
    the path, a NUL byte, the file's bytes and a NUL byte."""
    root = package_dir or os.path.dirname(os.path.abspath(__file__))
    files: list[str] = []
    for d, dirs, names in os.walk(root):
        dirs[:] = [x for x in dirs if x != "__pycache__"]
        files += [os.path.relpath(os.path.join(d, n), root).replace(os.sep, "/") for n in names if n.endswith(".py")]
    h = hashlib.sha256()
    for rel in sorted(files):
        with open(os.path.join(root, rel), "rb") as f:
            h.update(rel.encode("utf-8") + b"\0" + f.read() + b"\0")
    return h.hexdigest()


if __name__ == "__main__":
    print(source_revision())
