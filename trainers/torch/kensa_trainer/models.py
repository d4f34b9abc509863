"""Small networks trained from scratch on CPU. Sizes are fixed at construction from the job's
input size (only the batch axis is dynamic in the ONNX export), and every block is made of
Conv/BN/ReLU/add/upsample so that FX int8 quantization and its ONNX export work on torch 1.13
(quantized concat does not export there: the U-Net uses additive skips for that reason)."""

from __future__ import annotations

import torch
from torch import nn


def conv_bn(cin: int, cout: int, stride: int = 1, k: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


def out_size(n: int, stride: int) -> int:
    """Spatial size after `log2(stride)` stride-2 3×3 convs with padding 1: ceil halving."""
    while stride > 1:
        n = (n + 1) // 2
        stride //= 2
    return n


class BasicBlock(nn.Module):
    """ResNet basic block; a 1×1 projection when the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.proj: nn.Module = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else nn.Identity()
        )
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(y + self.proj(x))


class ResNetLite(nn.Module):
    """Classification: stride-2 stem, four residual stages (×1, ×2, ×2, ×2), global pooling,
    linear. About 0.7 M parameters at the default widths. Outputs logits.

    Pooling is average + max: a defect covers a few cells of the last feature map, and averaging
    alone dilutes it into the surface texture (training from scratch then often stalls at chance);
    the max keeps "something is wrong somewhere". Added, not concatenated, for int8 export."""

    def __init__(self, in_ch: int, num_classes: int, widths: tuple[int, ...] = (24, 48, 96, 160)) -> None:
        super().__init__()
        self.stem = conv_bn(in_ch, widths[0], stride=2)
        stages = [BasicBlock(widths[0], widths[0], 1)]
        for a, b in zip(widths, widths[1:]):
            stages.append(BasicBlock(a, b, 2))
        self.stages = nn.Sequential(*stages)
        self.avg = nn.AdaptiveAvgPool2d(1)
        self.max = nn.AdaptiveMaxPool2d(1)
        self.fc = nn.Linear(widths[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.stages(self.stem(x))
        return self.fc(torch.flatten(self.avg(f) + self.max(f), 1))


class UNetLite(nn.Module):
    """Segmentation: a three-level U-Net with additive skips and bilinear upsampling to the exact
    sizes of the skip features (so any input size works). Outputs per-class logits at input size.
    Full resolution gets a single narrow conv each way: it costs the most per channel on a CPU."""

    def __init__(self, in_ch: int, num_classes: int, height: int, width: int, widths: tuple[int, ...] = (16, 32, 64, 96)) -> None:
        super().__init__()
        w0, w1, w2, w3 = widths
        self.enc0 = conv_bn(in_ch, w0)
        self.enc1 = nn.Sequential(conv_bn(w0, w1, 2), conv_bn(w1, w1))
        self.enc2 = nn.Sequential(conv_bn(w1, w2, 2), conv_bn(w2, w2))
        self.enc3 = nn.Sequential(conv_bn(w2, w3, 2), conv_bn(w3, w3))
        sizes = [(out_size(height, s), out_size(width, s)) for s in (1, 2, 4)]
        self.up2 = nn.Upsample(size=sizes[2], mode="bilinear", align_corners=False)
        self.up1 = nn.Upsample(size=sizes[1], mode="bilinear", align_corners=False)
        self.up0 = nn.Upsample(size=sizes[0], mode="bilinear", align_corners=False)
        self.lat2 = conv_bn(w3, w2, k=1)
        self.dec2 = conv_bn(w2, w2)
        self.lat1 = conv_bn(w2, w1, k=1)
        self.dec1 = conv_bn(w1, w1)
        self.lat0 = conv_bn(w1, w0, k=1)
        self.dec0 = conv_bn(w0, w0)
        self.head = nn.Conv2d(w0, num_classes, 1)
        # defects cover a few per cent of a frame: start from "background almost everywhere"
        # (p ≈ 0.97) instead of a uniform guess that first has to unlearn labelling everything
        nn.init.zeros_(self.head.bias)
        with torch.no_grad():
            self.head.bias[0] = 3.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e0 = self.enc0(x)
        e1 = self.enc1(e0)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        d2 = self.dec2(self.lat2(self.up2(e3)) + e2)
        d1 = self.dec1(self.lat1(self.up1(d2)) + e1)
        d0 = self.dec0(self.lat0(self.up0(d1)) + e0)
        return self.head(d0)


class CenterNetLite(nn.Module):
    """Detection, CenterNet-style and anchor-free: a stride-16 backbone, a small top-down path back
    to stride 4, and three heads on the stride-4 grid — class heatmap logits (K), log box size
    (2, in grid cells) and centre offset logits (2). The export wrapper turns them into the
    documented tensors."""

    STRIDE = 4

    def __init__(self, in_ch: int, num_classes: int, height: int, width: int, widths: tuple[int, ...] = (16, 32, 64, 96)) -> None:
        super().__init__()
        w0, w1, w2, w3 = widths
        self.stem = conv_bn(in_ch, w0, 2)
        self.s4 = BasicBlock(w0, w1, 2)
        self.s8 = BasicBlock(w1, w2, 2)
        self.s16 = BasicBlock(w2, w3, 2)
        self.up8 = nn.Upsample(size=(out_size(height, 8), out_size(width, 8)), mode="bilinear", align_corners=False)
        self.up4 = nn.Upsample(size=(out_size(height, 4), out_size(width, 4)), mode="bilinear", align_corners=False)
        self.lat8 = conv_bn(w3, w2, k=1)
        self.dec8 = conv_bn(w2, w2)
        self.lat4 = conv_bn(w2, w1, k=1)
        self.dec4 = conv_bn(w1, w1)
        # one shared 3×3 trunk for the three 1×1 heads: separate trunks tripled the cost of the
        # stride-4 stage for no measurable gain on the synthetic set
        self.trunk = conv_bn(w1, w1)
        self.heat = nn.Conv2d(w1, num_classes, 1)
        self.size = nn.Conv2d(w1, 2, 1)
        self.offset = nn.Conv2d(w1, 2, 1)
        # focal loss starts stable when every cell begins as "probably background" (p ≈ 0.1)
        nn.init.constant_(self.heat.bias, -2.19)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        f4 = self.s4(self.stem(x))
        f8 = self.s8(f4)
        f16 = self.s16(f8)
        d8 = self.dec8(self.lat8(self.up8(f16)) + f8)
        t = self.trunk(self.dec4(self.lat4(self.up4(d8)) + f4))
        return self.heat(t), self.size(t), self.offset(t)
