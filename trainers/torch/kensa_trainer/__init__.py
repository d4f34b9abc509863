"""Kensa's built-in trainer: classification, segmentation and detection from scratch, behind the
trainer contract (packages/contracts/src/trainer.ts, described in ../README.md)."""

VERSION = "kensa-torch/1"
