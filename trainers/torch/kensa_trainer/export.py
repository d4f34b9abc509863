"""ONNX export (opset 13, dynamic batch, input "image") and int8 static quantization.

int8: torch 1.13's FX graph-mode post-training quantization (qnnpack qconfig: per-tensor, uint8
activations, int8 weights), calibrated on training images, exported by torch.onnx as a QDQ graph
(QuantizeLinear/DequantizeLinear around float ops) that ONNX Runtime fuses into integer kernels.
Output activations (softmax, sigmoid, exp) stay in float outside the quantized core."""

from __future__ import annotations

import copy
import io
import warnings

import onnx
import torch
from torch import nn

from .data import Split
from .loop import Preparer
from .tasks import Task
from .tasks.base import batches

OPSET = 13
CALIBRATION_IMAGES = 256
QUANT_BACKEND = "qnnpack per-tensor static int8 (torch FX), QDQ ONNX"


def export_onnx(task: Task, model: nn.Module, job_channels: int, height: int, width: int, path: str) -> None:
    module = task.export_module(model).eval()
    dummy = torch.zeros((1, job_channels, height, width))
    names = list(task.output_names)
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # the exporter's tracer warnings are noise for these fixed-shape graphs
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (dummy,),
            buf,
            opset_version=OPSET,
            input_names=["image"],
            output_names=names,
            dynamic_axes={"image": {0: "batch"}, **{n: {0: "batch"} for n in names}},
            do_constant_folding=True,
        )
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto)
    with open(path, "wb") as f:
        f.write(buf.getvalue())


def quantize(model: nn.Module, train_split: Split, prep: Preparer) -> nn.Module:
    """A calibrated, converted int8 copy of `model` (the fp32 model is left untouched)."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    if "qnnpack" not in torch.backends.quantized.supported_engines:
        raise RuntimeError(f"this torch build has no qnnpack engine (has {torch.backends.quantized.supported_engines})")
    torch.backends.quantized.engine = "qnnpack"
    n = min(len(train_split), CALIBRATION_IMAGES)
    # a fixed spread over the training set: never the first n of one sorted class
    pick = torch.randperm(len(train_split), generator=torch.Generator().manual_seed(0))[:n]
    example = prep(train_split, pick[:8]).x
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = prepare_fx(copy.deepcopy(model).eval(), get_default_qconfig_mapping("qnnpack"), (example,))
        with torch.no_grad():
            for idx in batches(n, 32):
                prepared(prep(train_split, pick[idx]).x)
        return convert_fx(prepared).eval()
