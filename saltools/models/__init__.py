"""Models: the Shapes ResNet (shipped weights), torchvision's ImageNet ResNets, the conv filter index.

``architectures`` builds networks, ``loading`` loads and checks weights, ``filters`` indexes conv
filters, ``training`` trains the Shapes models, ``evaluation`` predicts and finds mistakes. Every
model takes images in [0, 1]: input normalization is its first module. The leave-the-model-as-found
helpers (``preserved_state``, ``in_layout``, ...) are re-exported from ``saltools._torch``.
"""
from ..checks import class_targets
from .._torch import device_of, in_layout, memory_layout_fallback, preserved_state
from .architectures import (IMAGENET_MEAN, IMAGENET_STD, InvertedResidual, Normalize, Normalized, ShapesMobileNet,
                            ShapesResNet, ShapesVGG)
from .evaluation import Mistakes, accuracy, as_images, mistakes, predict, robustness
from .filters import conv_layers, filter_index
from .loading import (ARCHITECTURES, SHIPPED, TORCHVISION, ChecksumError, ShippedModel, WeightsUnavailableError, asset_path,
                      available, check_hash_prefix, load, load_checked, sha256, torchvision_weights_obtainable,
                      torchvision_weights_path, torchvision_weights_url)
from .training import fit_normalization, train, train_shapes_model, train_shapes_resnet

__all__ = ["ARCHITECTURES", "IMAGENET_MEAN", "InvertedResidual", "ShapesMobileNet", "ShapesVGG", "train_shapes_model",
           "IMAGENET_MEAN", "IMAGENET_STD", "SHIPPED", "TORCHVISION", "ChecksumError", "Mistakes", "Normalize",
           "Normalized", "ShapesResNet", "ShippedModel", "WeightsUnavailableError", "accuracy", "as_images",
           "asset_path", "available", "check_hash_prefix", "class_targets", "conv_layers", "device_of", "filter_index",
           "fit_normalization", "in_layout", "load", "load_checked", "memory_layout_fallback", "mistakes",
           "predict", "preserved_state", "robustness", "sha256", "torchvision_weights_obtainable",
           "torchvision_weights_path", "torchvision_weights_url", "train", "train_shapes_resnet"]
