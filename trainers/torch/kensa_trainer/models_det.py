"""The built-in detector's network: a small residual backbone down to stride 32, a feature
pyramid's top-down path back to stride 4 (additive merges, for int8 export as in models.py), and
two separate heads on the stride-4 grid: class heatmap logits (K) and the distances from the
cell's centre to the box's four sides (left, top, right, bottom; log of grid cells).

Stride 32 matters on inspection images: a scratch or a crazed area often spans the whole frame,
and a stride-16 backbone's receptive field did not see it whole. The heads are separate because
classification (what texture is this) and regression (where does it end) pull a shared trunk
apart; on the stride-4 grid a 3×3 conv of the pyramid's width costs little."""

from __future__ import annotations

import torch
from torch import nn

from .models import BasicBlock, conv_bn, out_size

#: the class heatmap starts at p ≈ 0.1 everywhere, so the focal loss starts stable
HEAT_PRIOR_BIAS = -2.19


class PyramidDetector(nn.Module):
    """Backbone stages at strides 4, 8, 16, 32; top-down merges to stride 4; heads at stride 4.
    Outputs (heat logits N×K×Gh×Gw, log distances N×4×Gh×Gw in cells)."""

    STRIDE = 4

    def __init__(
        self,
        in_ch: int,
        num_classes: int,
        height: int,
        width: int,
        widths: tuple[int, ...] = (16, 32, 64, 96, 128),
        neck: tuple[int, ...] = (32, 48, 64),
    ) -> None:
        super().__init__()
        w0, w1, w2, w3, w4 = widths
        n4, n8, n16 = neck
        self.stem = conv_bn(in_ch, w0, 2)
        self.c4 = BasicBlock(w0, w1, 2)
        self.c8 = nn.Sequential(BasicBlock(w1, w2, 2), BasicBlock(w2, w2, 1))
        self.c16 = nn.Sequential(BasicBlock(w2, w3, 2), BasicBlock(w3, w3, 1))
        self.c32 = nn.Sequential(BasicBlock(w3, w4, 2), BasicBlock(w4, w4, 1))
        size = lambda s: (out_size(height, s), out_size(width, s))  # noqa: E731
        self.up16 = nn.Upsample(size=size(16), mode="bilinear", align_corners=False)
        self.up8 = nn.Upsample(size=size(8), mode="bilinear", align_corners=False)
        self.up4 = nn.Upsample(size=size(4), mode="bilinear", align_corners=False)
        self.top16 = conv_bn(w4, n16, k=1)
        self.lat16 = conv_bn(w3, n16, k=1)
        self.dec16 = conv_bn(n16, n16)
        self.top8 = conv_bn(n16, n8, k=1)
        self.lat8 = conv_bn(w2, n8, k=1)
        self.dec8 = conv_bn(n8, n8)
        self.top4 = conv_bn(n8, n4, k=1)
        self.lat4 = conv_bn(w1, n4, k=1)
        self.dec4 = conv_bn(n4, n4)
        self.cls_trunk = conv_bn(n4, n4)
        self.reg_trunk = conv_bn(n4, n4)
        self.heat = nn.Conv2d(n4, num_classes, 1)
        self.dist = nn.Conv2d(n4, 4, 1)
        nn.init.constant_(self.heat.bias, HEAT_PRIOR_BIAS)
        # distances start at e^1 ≈ 2.7 cells each way: a box of about 5×5 cells
        nn.init.constant_(self.dist.bias, 1.0)
        nn.init.normal_(self.dist.weight, std=0.01)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f4 = self.c4(self.stem(x))
        f8 = self.c8(f4)
        f16 = self.c16(f8)
        f32 = self.c32(f16)
        p16 = self.dec16(self.up16(self.top16(f32)) + self.lat16(f16))
        p8 = self.dec8(self.up8(self.top8(p16)) + self.lat8(f8))
        p4 = self.dec4(self.up4(self.top4(p8)) + self.lat4(f4))
        return self.heat(self.cls_trunk(p4)), self.dist(self.reg_trunk(p4))
