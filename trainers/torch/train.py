#!/usr/bin/env python3
"""Shim for `python3 train.py job.json` from any directory."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kensa_trainer.__main__ import run  # noqa: E402

run()
