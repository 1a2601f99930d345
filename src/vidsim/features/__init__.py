"""Frames -> region features: backbone registry, L3-iMAC pooling, PCA whitening.

Attention lives in vidsim.similarity: its weights belong to the ViSiL head.
"""
from vidsim.features.backbones import Backbone, available_backbones, build_backbone, register_backbone
from vidsim.features.extractor import FeatureExtractor, resolve_device
from vidsim.features.pooling import region_pool, region_vectors
from vidsim.features.types import VideoFeatures
from vidsim.features.whitening import PCAWhitening

__all__ = [
    "Backbone",
    "FeatureExtractor",
    "PCAWhitening",
    "VideoFeatures",
    "available_backbones",
    "build_backbone",
    "region_pool",
    "region_vectors",
    "register_backbone",
    "resolve_device",
]
