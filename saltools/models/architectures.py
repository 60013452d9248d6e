"""Architectures: input normalization as a module, and the Shapes ResNet.

Every model in saltools takes images in [0, 1]: input normalization is the model's first module.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
from torchvision.models.resnet import BasicBlock

from ..parameters import POSITIVE, Each, Number, checked


IMAGENET_MEAN = (0.485, 0.456, 0.406)


IMAGENET_STD = (0.229, 0.224, 0.225)


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel, so the model takes images in [0, 1]."""

    @checked(mean=Each(Number()), std=Each(Number(0, open="low")))
    def __init__(self, mean: Sequence[float] = (0.5, 0.5, 0.5), std: Sequence[float] = (0.25, 0.25, 0.25)):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class Normalized(nn.Module):
    """A network preceded by input normalization: ``net(normalize(x))``."""

    @checked(mean=Each(Number()), std=Each(Number(0, open="low")))
    def __init__(self, net: nn.Module, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.normalize(x))


class ShapesResNet(nn.Module):
    """A narrow torchvision-style ResNet for 64x64 Shapes images (ResNet-18 layout at 1/4 width by default).

    Stages are named as in torchvision (``conv1``, ``layer1`` .. ``layer4``, ``fc``) and built from
    torchvision's own ``BasicBlock``; the stem is a stride-2 3x3 conv without max-pool.
    """

    @checked(layers=Each(POSITIVE), widths=Each(POSITIVE))
    def __init__(self, num_classes: int = 10, layers: Sequence[int] = (2, 2, 2, 2),
                 widths: Sequence[int] = (16, 32, 64, 128)):
        super().__init__()
        self.normalize = Normalize()
        self.conv1 = nn.Conv2d(3, widths[0], 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        inplanes = widths[0]
        for i, (blocks, width) in enumerate(zip(layers, widths)):
            stride = 1 if i == 0 else 2
            stage = []
            for b in range(blocks):
                downsample = None
                if b == 0 and (stride != 1 or inplanes != width):
                    downsample = nn.Sequential(nn.Conv2d(inplanes, width, 1, stride=stride, bias=False),
                                               nn.BatchNorm2d(width))
                stage.append(BasicBlock(inplanes, width, stride if b == 0 else 1, downsample))
                inplanes = width
            setattr(self, f"layer{i + 1}", nn.Sequential(*stage))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(inplanes, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(self.normalize(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _conv_bn_relu(inp: int, out: int, kernel: int = 3, stride: int = 1, groups: int = 1, relu: bool = True) -> list:
    layers = [nn.Conv2d(inp, out, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False),
              nn.BatchNorm2d(out)]
    return layers + [nn.ReLU(inplace=True)] if relu else layers


class _StagedNet(nn.Module):
    """A stem ``conv1``, stages ``layer1`` .. ``layer4``, global average pooling and ``fc``: the stage
    names every Shapes model shares, so that stage-wise analyses compare across the zoo."""

    def _add_stages(self, stages: list[list[nn.Module]], width: int, num_classes: int) -> None:
        for i, stage in enumerate(stages):
            setattr(self, f"layer{i + 1}", nn.Sequential(*stage))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(self.normalize(x))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class ShapesVGG(_StagedNet):
    """A plain VGG-style CNN for 64x64 Shapes images: conv + BatchNorm + ReLU, no skip connections.

    Named like the ResNets, so stage-wise analyses compare across the zoo: a stride-2 3x3 stem
    ``conv1`` (stage ``conv1``), then ``layer1`` .. ``layer4``, each ``convs`` 3x3 convs at one width,
    ``layer2`` .. ``layer4`` starting with a 2x2 max-pool; global average pooling and ``fc``.
    """

    @checked(widths=Each(POSITIVE))
    def __init__(self, num_classes: int = 10, widths: Sequence[int] = (16, 32, 64, 128), convs: int = 2):
        super().__init__()
        self.normalize = Normalize()
        self.conv1 = nn.Sequential(*_conv_bn_relu(3, widths[0], stride=2))
        inplanes, stages = widths[0], []
        for i, width in enumerate(widths):
            stage = [nn.MaxPool2d(2)] if i > 0 else []
            for _ in range(convs):
                stage += _conv_bn_relu(inplanes, width)
                inplanes = width
            stages.append(stage)
        self._add_stages(stages, inplanes, num_classes)


class InvertedResidual(nn.Module):
    """MobileNetV2's block (Sandler et al. 2018): 1x1 expansion, 3x3 depthwise conv, linear 1x1
    projection, and a skip connection when the shape allows. ReLU instead of ReLU6, so that every
    activation is one RectGrad and Guided Backprop know (torchvision's block hard-codes ReLU6)."""

    @checked(inp=POSITIVE, out=POSITIVE)
    def __init__(self, inp: int, out: int, stride: int, expand: int = 4):
        super().__init__()
        hidden = inp * expand
        self.block = nn.Sequential(*_conv_bn_relu(inp, hidden, kernel=1),
                                   *_conv_bn_relu(hidden, hidden, stride=stride, groups=hidden),
                                   *_conv_bn_relu(hidden, out, kernel=1, relu=False))
        self.skip = stride == 1 and inp == out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x) if self.skip else self.block(x)


class ShapesMobileNet(_StagedNet):
    """A MobileNetV2-style network for 64x64 Shapes images, with depthwise convolutions.

    Stage names as the ResNets: the stride-2 stem ``conv1``, ``layer1`` .. ``layer4`` of
    ``InvertedResidual`` blocks (``layer4`` ends with MobileNetV2's 1x1 widening conv), then global
    average pooling and ``fc``.
    """

    @checked(widths=Each(POSITIVE))
    def __init__(self, num_classes: int = 10, widths: Sequence[int] = (24, 32, 64, 96), blocks: int = 2,
                 expand: int = 4, head: int = 256):
        super().__init__()
        self.normalize = Normalize()
        self.conv1 = nn.Sequential(*_conv_bn_relu(3, 16, stride=2))
        inplanes, stages = 16, []
        for i, width in enumerate(widths):
            stage = []
            for b in range(blocks):
                stage.append(InvertedResidual(inplanes, width, 2 if (b == 0 and i > 0) else 1, expand))
                inplanes = width
            if i == len(widths) - 1:
                stage.append(nn.Sequential(*_conv_bn_relu(inplanes, head, kernel=1)))
                inplanes = head
            stages.append(stage)
        self._add_stages(stages, inplanes, num_classes)
