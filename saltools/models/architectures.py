"""Architectures: input normalization as a module, and the Shapes ResNet.

Every model in saltools takes images in [0, 1]: input normalization is the model's first module.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
from torchvision.models.resnet import BasicBlock


IMAGENET_MEAN = (0.485, 0.456, 0.406)


IMAGENET_STD = (0.229, 0.224, 0.225)


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel, so the model takes images in [0, 1]."""

    def __init__(self, mean: Sequence[float] = (0.5, 0.5, 0.5), std: Sequence[float] = (0.25, 0.25, 0.25)):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class Normalized(nn.Module):
    """A network preceded by input normalization: ``net(normalize(x))``."""

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
